"""Names and constants that every layer shares, so that a column, a plot title and a metric agree.

Velocity directions: ``vx`` along image columns, ``vy`` along image rows, ``vz`` through the plane (see
docs/CONVENTIONS.md). Velocities enter the networks and the image metrics in units of VENC, so their
data range is 2 (from -1 to 1). A mask probability counts as myocardium above ``MASK_THRESHOLD``.
"""

from __future__ import annotations

DIRECTIONS: tuple[str, str, str] = ("vx", "vy", "vz")
#: velocity / VENC spans [-1, 1]
VELOCITY_DATA_RANGE = 2.0
#: a pixel belongs to a mask when its probability (or a blended mask value) exceeds this
MASK_THRESHOLD = 0.5
