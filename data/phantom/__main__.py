"""``python -m data.phantom``: generate a phantom cohort (see data/phantom/cli.py)."""

import sys

from data.phantom.cli import main

if __name__ == "__main__":
    sys.exit(main())
