"""Shared look of the report figures: the reference's label and each method's line style.

The headless backend, the velocity colour map and the display ranges are ``util.plotting`` (the data
layer's figures use them too).
"""

from __future__ import annotations

#: label of the reference data in every figure and table
REFERENCE = "acquired"
#: line style per method; unknown methods cycle through the fallbacks
METHOD_STYLES: dict[str, dict] = {
    REFERENCE: {"color": "black", "linestyle": "-", "linewidth": 2.0},
    "hdl": {"color": "tab:red", "linestyle": "-", "linewidth": 1.6},
    "baseline": {"color": "tab:blue", "linestyle": "--", "linewidth": 1.4},
}
_FALLBACK_COLOURS = ("tab:green", "tab:purple", "tab:orange", "tab:brown")
COMPONENT_TITLES = {"radial": "radial", "circumferential": "circumferential", "longitudinal": "longitudinal"}


def method_style(label: str, index: int = 0) -> dict:
    """Line style of a method: fixed for the reference, HDL and the baseline, cycled for others."""
    if label in METHOD_STYLES:
        return dict(METHOD_STYLES[label])
    return {"color": _FALLBACK_COLOURS[index % len(_FALLBACK_COLOURS)], "linestyle": "-.", "linewidth": 1.4}
