"""Naming of the slices of a short-axis stack once it is ordered from base to apex (shared by the importers)."""

from __future__ import annotations

from collections.abc import Sequence

from data.mvm_io import SLICE_POSITIONS


def positions_by_rank(n: int) -> list[str]:
    """Positions of ``n`` slices ordered base to apex: thirds of the stack, each slice by its centre.

    1 slice -> mid; 2 -> basal, apical; 3 -> basal, mid, apical; more -> split into thirds.
    """
    return [SLICE_POSITIONS[min(2, int(3 * (i + 0.5) / n))] for i in range(n)]


def slice_names(positions: Sequence[str]) -> list[str]:
    """Group names: the position itself when it is unique, else the position numbered (mid1, mid2, ...)."""
    counts = {p: list(positions).count(p) for p in positions}
    seen: dict[str, int] = {}
    names = []
    for p in positions:
        seen[p] = seen.get(p, 0) + 1
        names.append(p if counts[p] == 1 else f"{p}{seen[p]}")
    return names
