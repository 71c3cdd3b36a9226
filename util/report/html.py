"""index.html of the chained-synthesis report: one self-contained page that opens from disk.

No server, no scripts, no external resources: inline CSS and relative links only, so the results folder
can be zipped, mailed or opened on a cluster's file browser. The metrics table is shown transposed (one
row per metric, one column per method), with the better value of each row in bold.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from util.atomic import write_text
from util.tables import format_value

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px; color: #222;
       max-width: 1250px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 18px; border-bottom: 1px solid #ccc;
     padding-bottom: 3px; margin-top: 28px; } h3 { font-size: 15px; margin-bottom: 6px; }
table { border-collapse: collapse; font-size: 12px; margin: 8px 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f2f2f2; } td.name, th.name { text-align: left; font-family: monospace; }
td.help { text-align: left; color: #555; } tr.group td { background: #fafafa; font-weight: bold;
     text-align: left; } td.best { font-weight: bold; color: #0a5; }
dl.info { display: grid; grid-template-columns: max-content auto; gap: 2px 14px; font-size: 13px; }
dl.info dt { font-weight: bold; } dl.info dd { margin: 0; font-family: monospace; }
figure { margin: 10px 0 18px 0; } figcaption { font-size: 12px; color: #555; }
img { max-width: 100%; border: 1px solid #eee; } .note { font-size: 12px; color: #555; }
ul.files { font-size: 13px; }
"""

#: (column prefix, group heading, explanation, higher is better?)
COLUMN_GROUPS: tuple[tuple[str, str, str, bool], ...] = (
    ("n_slices", "Data", "slices scored", True),
    ("mag_", "Magnitude (non-key frames)", "PSNR dB / SSIM on [0, 1]; tissue = foreground only", True),
    ("myo_dice", "Myocardium (non-key frames)", "Dice of the synthesised mask", True),
    ("vel_psnr", "Velocity PSNR (all frames)", "dB, velocity / VENC, data range 2; tissue = foreground only", True),
    ("vel_ssim", "Velocity SSIM (all frames)", "velocity / VENC, data range 2; tissue = foreground only", True),
    ("vel_mae", "Velocity error in the myocardium", "mean |error| in cm/s (true: vs noise-free phantom)", False),
    ("curve_", "Global velocity curves", "Pearson r and RMSE (cm/s) vs the acquired curve", True),
    ("peak_err", "Peak velocity errors", "|synthesised - acquired| of the global peak, cm/s", False),
    ("ttp_err", "Time-to-peak errors", "|synthesised - acquired| time to peak, ms", False),
    ("fid", "FID", "Frechet Inception Distance of the velocity maps", False),
)


@dataclass
class Figure:
    path: str  # relative to index.html
    caption: str


@dataclass
class Section:
    title: str
    figures: list[Figure] = field(default_factory=list)
    note: str = ""


def _group(column: str) -> tuple[str, str, bool]:
    for prefix, heading, explanation, higher in COLUMN_GROUPS:
        if column.startswith(prefix):
            if prefix == "curve_" and column.endswith("_rmse_cm_s"):
                return heading, explanation, False
            return heading, explanation, higher
    return "Other", "", True


def _best(values: Sequence[object], higher: bool) -> int | None:
    numbers = [(i, float(v)) for i, v in enumerate(values) if isinstance(v, (int, float)) and math.isfinite(v)]
    if len(numbers) < 2 or len({v for _, v in numbers}) == 1:
        return None
    return (max if higher else min)(numbers, key=lambda iv: iv[1])[0]


def metrics_table(summary: Sequence[Mapping[str, object]], columns: Sequence[str]) -> str:
    """The metrics transposed: a row per metric, a column per method, grouped, best value in bold."""
    methods = [str(r["method"]) for r in summary]
    head = "".join(f"<th>{html.escape(m)}</th>" for m in methods)
    lines = [f'<table><tr><th class="name">metric</th>{head}</tr>']
    descriptions = [html.escape(str(r.get("description", ""))) for r in summary]
    lines.append('<tr><td class="name">description</td>' + "".join(f'<td class="help">{d}</td>' for d in descriptions))
    current = None
    for col in columns:
        if col in ("method", "description"):
            continue
        heading, explanation, higher = _group(col)
        if heading != current:
            current = heading
            lines.append(
                f'<tr class="group"><td colspan="{len(methods) + 1}">{html.escape(heading)}'
                f' <span class="note">({html.escape(explanation)})</span></td></tr>'
            )
        values = [r.get(col, math.nan) for r in summary]
        best = _best(values, higher) if col != "n_slices" else None
        cells = "".join(
            f'<td class="{"best" if i == best else ""}">{html.escape(format_value(v))}</td>'
            for i, v in enumerate(values)
        )
        lines.append(f'<tr><td class="name">{html.escape(col)}</td>{cells}</tr>')
    lines.append("</table>")
    return "\n".join(lines)


def write_index(
    out_dir: str | os.PathLike,
    title: str,
    info: Mapping[str, object],
    summary: Sequence[Mapping[str, object]],
    columns: Sequence[str],
    sections: Sequence[Section],
    files: Sequence[tuple[str, str]] = (),
    notes: Sequence[str] = (),
) -> Path:
    """Write ``out_dir/index.html``. Every ``Figure.path`` and file link must be relative to ``out_dir``
    and exist (checked: a broken image in a report is worse than an error)."""
    out = Path(out_dir)
    linked = [f.path for s in sections for f in s.figures] + [p for p, _ in files]
    missing = [p for p in linked if not (out / p).is_file()]
    if missing:
        raise FileNotFoundError(f"{out}: index.html would link to missing files {missing[:5]}")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        '<dl class="info">'
        + "".join(f"<dt>{html.escape(str(k))}</dt><dd>{html.escape(str(v))}</dd>" for k, v in info.items())
        + "</dl>",
        "<h2>Metrics</h2>",
        "".join(f'<p class="note">{html.escape(n)}</p>' for n in notes),
        metrics_table(summary, columns),
    ]
    if files:
        parts.append('<h2>Files</h2><ul class="files">')
        parts += [f'<li><a href="{html.escape(p)}">{html.escape(p)}</a>: {html.escape(d)}</li>' for p, d in files]
        parts.append("</ul>")
    for s in sections:
        parts.append(f"<h2>{html.escape(s.title)}</h2>")
        if s.note:
            parts.append(f'<p class="note">{html.escape(s.note)}</p>')
        for f in s.figures:
            src = html.escape(f.path)
            parts.append(
                f'<figure><a href="{src}"><img src="{src}" alt="{html.escape(f.caption)}"></a>'
                f"<figcaption>{html.escape(f.caption)}</figcaption></figure>"
            )
    parts.append("</body></html>\n")
    return write_text(out / "index.html", "\n".join(parts))
