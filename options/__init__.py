"""Command-line options: base, train and test parsers; models and datasets add their own before the final parse."""
