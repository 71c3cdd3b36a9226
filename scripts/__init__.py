"""Command-line tools and shell recipes, run from the repository root as ``python -m scripts.<tool>``."""
