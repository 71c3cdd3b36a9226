"""Names for people of the metric columns: a readable name, the unit, which way is better and a group.

The CSV files keep the code identifiers (``ttp_err_circumferential_a_prime_ms``); tables that people read
(the results pages, ``python -m assessment.tables``) show :func:`describe`'s name and unit instead. Names are
made by rules on the column-name patterns, first match wins, so a column added later gets a sensible
name from its parts (words spelled out, unit from the suffix, direction from the metric's kind):

==========================================  ==========================================================
pattern                                     example
==========================================  ==========================================================
``<metric>_ci_low`` / ``_ci_high``          the metric's name + "95% CI, low" (never highlighted)
``mag_<psnr|ssim>[_tissue]_nonkey``         magnitude PSNR (dB) / SSIM on the non-key frames
``myo_dice_nonkey``, ``dice``               Dice of the synthesised myocardium
``vel_<psnr|ssim>[_tissue]_<x|y|z>``        vx PSNR, whole image / tissue (dB)
``vel_mae_myo[_true]_cm_s``                 velocity error in the myocardium (cm/s)
``vel_skill``                               1 - MAE / MAE(zero velocity)
``vel_<hp_std_tissue|bg_std>_cm_s``         stage 2's realism: tissue texture / background SD (cm/s)
``correction_myo_cm_s``                     stage 2's correction of its prior (cm/s; no better way)
``curve_<component>_<r|rmse_cm_s>``         radial curve r / RMSE (cm/s)
``peak_err_<component>_<peak>_cm_s``        circumferential A' peak error (cm/s)
``ttp_err_<component>_<peak>_ms``           longitudinal S' time-to-peak error (ms)
anything else                               words spelled out; unit from ``_cm_s``, ``_ms``, ``_frames``,
                                            ``_db``; better from the words (``err``, ``mae``, ``rmse``,
                                            ``fid``: lower; ``bias``: closer to 0; ``r``, ``auc``,
                                            ``dice``, ``ssim``, ``psnr``, ``skill``: higher)
==========================================  ==========================================================

:data:`GROUP_NOTES` holds the "how to read" line of each group, and :func:`key_columns` picks the
headline columns of a table (the rest stay in the CSV and in the full table).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

HIGHER, LOWER, ZERO = "higher", "lower", "closer to 0"
PEAK_NAMES = {"systolic": "S'", "e_prime": "E'", "a_prime": "A'"}
_WORDS = {
    "circ": "circumferential",
    "long": "longitudinal",
    "rad": "radial",
    "ttp": "time to peak",
    "err": "error",
    "auc": "AUC",
    "mae": "MAE",
    "rmse": "RMSE",
    "psnr": "PSNR",
    "ssim": "SSIM",
    "fid": "FID",
    "myo": "myocardium",
    "mag": "magnitude",
    "vel": "velocity",
    "nonkey": "non-key frames",
    "fg": "tissue",
    "hp": "high-pass",
    "std": "SD",
    "bg": "background",
    "lv": "LV",
    "rv": "RV",
    "aha": "AHA",
    "ci": "CI",
}
_UNITS = ((r"_cm_s$", "cm/s"), (r"_ms$", "ms"), (r"_frames$", "frames"), (r"(^|_)db$", "dB"), (r"(^|_)psnr", "dB"))
_LOWER_WORDS = ("err", "error", "mae", "rmse", "fid", "dispersion")
_ZERO_WORDS = ("bias",)
_HIGHER_WORDS = ("r", "auc", "dice", "ssim", "psnr", "skill", "correlation", "sensitivity", "specificity")


@dataclass(frozen=True)
class MetricName:
    """How one column is shown: ``name``, ``unit`` ("" for none), ``better`` (HIGHER, LOWER, ZERO or None:
    not a score) and the ``group`` it is read with."""

    column: str
    name: str
    unit: str
    better: str | None
    group: str

    @property
    def header(self) -> str:
        """The name with its unit, as a column or row heading."""
        return f"{self.name} ({self.unit})" if self.unit else self.name


#: the "how to read" line of each group, in the order the groups are shown
GROUP_NOTES: dict[str, str] = {
    "Data": "How many slices each method was scored on.",
    "Magnitude (non-key frames)": "The synthesised magnitude frames against the acquired ones, on the frames the "
    "model was not given: PSNR (dB) and SSIM (0 to 1), higher is better; 'tissue' counts the foreground only.",
    "Myocardium (non-key frames)": "Overlap (Dice, 0 to 1) of the synthesised myocardium mask with the acquired "
    "one; higher is better.",
    "Velocity error": "Mean |synthesised - acquired| velocity inside the myocardium, cm/s, lower is better ('vs "
    "truth': against the noise-free velocity of the phantom). Skill = 1 - MAE / MAE of a still heart: 0 is no "
    "better than zero velocity, 1 is perfect.",
    "Velocity curves": "The global radial, circumferential and longitudinal velocity curves against the acquired "
    "ones: Pearson r (1: same shape; higher is better) and RMSE (cm/s, lower is better).",
    "Peaks": "|synthesised - acquired| of the global peaks (S' systolic, E' early and A' late diastolic) and of "
    "their times to peak; lower is better.",
    "Regional function": "Segment peaks, timing dispersion (dyssynchrony) and the detection of abnormal segments "
    "against the truth.",
    "Velocity maps": "Each velocity direction as an image (velocity / VENC): PSNR (dB) and SSIM, higher is "
    "better. The whole-image values are dominated by the background, which holds only phase noise: a map of "
    "zeros can score above the twin there. Read the 'tissue' rows.",
    "Realism": "Texture statistics of the rendered maps (cm/s); closest to the acquired data ('real') is best.",
    "Other": "",
}


def _words(text: str) -> str:
    return " ".join(_WORDS.get(w, w) for w in text.split("_") if w)


def _unit(column: str) -> str:
    for pattern, unit in _UNITS:
        if re.search(pattern, column):
            return unit
    return ""


def _strip_unit(column: str) -> str:
    return re.sub(r"_(cm_s|ms|frames|db)$", "", column)


def _better(column: str) -> str | None:
    words = set(column.lower().split("_"))
    if words & set(_ZERO_WORDS):
        return ZERO
    if words & set(_LOWER_WORDS):
        return LOWER
    if words & set(_HIGHER_WORDS):
        return HIGHER
    return None


def _group(column: str) -> str:
    checks = (
        (r"segment|dyssynchron|detection|_basal$|_mid$|_apical$|regional|aha", "Regional function"),
        (r"^(mag_)?(psnr|ssim)", "Magnitude (non-key frames)"),
        (r"dice", "Myocardium (non-key frames)"),
        (r"(^|_)(mae|skill)", "Velocity error"),
        (r"^curve_", "Velocity curves"),
        (r"^(peak|ttp)_", "Peaks"),
        (r"^vel_(psnr|ssim)", "Velocity maps"),
    )
    for pattern, group in checks:
        if re.search(pattern, column):
            return group
    return "Other"


Rule = tuple[str, Callable[[re.Match[str]], tuple[str, str, str | None, str]]]

_RULES: tuple[Rule, ...] = (
    (r"^n_slices$", lambda m: ("slices scored", "", None, "Data")),
    (
        r"^mag_(psnr|ssim)(_tissue)?_nonkey$",
        lambda m: (
            f"magnitude {m[1].upper()}{', tissue' if m[2] else ''}",
            "dB" if m[1] == "psnr" else "",
            HIGHER,
            "Magnitude (non-key frames)",
        ),
    ),
    (
        r"^(psnr|ssim)(_fg)?$",
        lambda m: (
            f"magnitude {m[1].upper()}{', tissue' if m[2] else ''}",
            "dB" if m[1] == "psnr" else "",
            HIGHER,
            "Magnitude (non-key frames)",
        ),
    ),
    (r"^(myo_)?dice(_nonkey)?$", lambda m: ("myocardium Dice", "", HIGHER, "Myocardium (non-key frames)")),
    (
        r"^vel_(psnr|ssim)(_tissue)?_([xyz])$",
        lambda m: (
            f"v{m[3]} {m[1].upper()}, {'tissue' if m[2] else 'whole image'}",
            "dB" if m[1] == "psnr" else "",
            HIGHER,
            "Velocity maps",
        ),
    ),
    (
        r"^vel_mae_myo(_true)?_cm_s$",
        lambda m: (f"velocity error (MAE), {'vs truth' if m[1] else 'vs acquired'}", "cm/s", LOWER, "Velocity error"),
    ),
    (r"^vel_skill$", lambda m: ("velocity skill", "", HIGHER, "Velocity error")),
    (
        r"^correction_myo_cm_s$",
        lambda m: ("stage 2's correction of its prior (mean |twin - prior|)", "cm/s", None, "Velocity error"),
    ),
    (r"^curve_([a-z]+)_r$", lambda m: (f"{_words(m[1])} curve r", "", HIGHER, "Velocity curves")),
    (r"^curve_([a-z]+)_rmse_cm_s$", lambda m: (f"{_words(m[1])} curve RMSE", "cm/s", LOWER, "Velocity curves")),
    (
        r"^peak_err_([a-z]+)_(systolic|e_prime|a_prime)_cm_s$",
        lambda m: (f"{_words(m[1])} {PEAK_NAMES[m[2]]} peak error", "cm/s", LOWER, "Peaks"),
    ),
    (r"^peak_err_mean_cm_s$", lambda m: ("peak error, mean of 3 components x 3 peaks", "cm/s", LOWER, "Peaks")),
    (
        r"^ttp_err_([a-z]+)_(systolic|e_prime|a_prime)_ms$",
        lambda m: (f"{_words(m[1])} {PEAK_NAMES[m[2]]} time-to-peak error", "ms", LOWER, "Peaks"),
    ),
    (r"^ttp_err_mean_(frames|ms)$", lambda m: ("time-to-peak error, mean of 9 peaks", m[1], LOWER, "Peaks")),
    (r"^fid$", lambda m: ("FID of the velocity maps", "", LOWER, "Other")),
    (r"^vel_hp_std_tissue_cm_s$", lambda m: ("tissue texture (high-pass SD)", "cm/s", None, "Realism")),
    (r"^vel_bg_std_cm_s$", lambda m: ("background SD", "cm/s", None, "Realism")),
)


def describe(column: str) -> MetricName:
    """The display name, unit, better direction and group of a metric column (see the module docstring)."""
    ci = re.match(r"^(.+)_ci_(low|high)$", column)
    if ci:
        base = describe(ci[1])
        return MetricName(column, f"{base.name}, 95% CI {ci[2]}", base.unit, None, base.group)
    for pattern, build in _RULES:
        match = re.match(pattern, column)
        if match:
            return MetricName(column, *build(match))
    return MetricName(column, _words(_strip_unit(column)), _unit(column), _better(column), _group(column))


#: columns that identify a row rather than measure it
ID_COLUMNS = ("method", "run", "subject", "slice", "slice_position", "n_frames", "has_reference")
#: the headline metrics of a table, by pattern (first the chain's, then the stages')
KEY_PATTERNS = (
    r"^n_slices$",
    r"^mag_psnr_nonkey$",
    r"^(myo_)?dice(_nonkey)?$",
    r"^vel_mae_myo_true_cm_s$",
    r"^vel_mae_myo_cm_s$",
    r"^vel_skill$",
    r"^correction_myo_cm_s$",
    r"^curve_[a-z]+_r$",
    r"^peak_err_mean_cm_s$",
    r"^ttp_err_mean_(frames|ms)$",
    r"^(psnr|ssim)(_fg)?$",
    r"^vel_psnr_tissue_[xyz]$",
    r"^vel_(hp|bg)_std",
    r"^dyssynchrony|^detection_auc$|^segment_peak_r$",
)


def is_key(column: str) -> bool:
    """Whether ``column`` is a headline metric (or an identifying column) of a table."""
    return column in ID_COLUMNS or any(re.search(p, column) for p in KEY_PATTERNS)


def key_columns(columns: Sequence[str]) -> list[str]:
    """The headline columns of ``columns``, in their order; all of them when none is a headline metric."""
    key = [c for c in columns if is_key(c)]
    return key if any(c not in ID_COLUMNS for c in key) else list(columns)


def best_indices(values: Sequence[object], better: str | None) -> set[int]:
    """Indices of the best of ``values`` (numbers; others ignored) by ``better``: every one that equals
    the best, so ties are marked alike; none when there is no direction, fewer than two numbers, or all
    are equal (nothing is better then)."""
    numbers = [(i, float(v)) for i, v in enumerate(values) if isinstance(v, (int, float)) and not isinstance(v, bool)]
    numbers = [(i, v) for i, v in numbers if v == v and abs(v) != float("inf")]
    if better is None or len(numbers) < 2 or len({v for _, v in numbers}) == 1:
        return set()
    score = {HIGHER: lambda v: -v, LOWER: lambda v: v, ZERO: abs}[better]
    best = min(score(v) for _, v in numbers)
    return {i for i, v in numbers if score(v) == best}
