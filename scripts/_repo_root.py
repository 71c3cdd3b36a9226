"""Puts the repository root on ``sys.path`` for a tool run as a file (``python scripts/<tool>.py``).

Python then puts ``scripts/`` on the path, not the root that holds the project's packages; run as a
module from the root (``python -m scripts.<tool>``) the root is there already. Each tool imports this
first, only when it was run as a file (``__package__`` is empty then).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
