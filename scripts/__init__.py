"""Command-line tools and shell recipes: ``python -m scripts.<tool>`` from the repository root, or
``python scripts/<tool>.py`` from anywhere (``scripts/_repo_root.py`` finds the packages then)."""
