"""HTML pages of the reports: self-contained pages that open from disk.

No server, no scripts, no external resources: inline CSS and relative links only, so the results folder
can be zipped, mailed or opened on a cluster's file browser. Every link is checked when a page is
written (a broken image in a report is worse than an error). Numbers are rounded by the one display
rule of ``util.tables`` (CSV files keep full precision). The method summary is shown transposed (one
row per metric, one column per method), with the better value of each row in bold.
"""

from __future__ import annotations

import html
import math
import os
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from util.atomic import write_text
from util.tables import display_value

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
ul.files { font-size: 13px; } td.text, th.text { text-align: left; } td.subject { font-family: monospace;
     text-align: left; vertical-align: top; } p.nav { font-size: 13px; } .figrow { display: flex;
     flex-wrap: wrap; gap: 12px; } .figrow figure { flex: 1 1 560px; margin: 6px 0; }
"""

#: (column prefix, group heading, explanation, higher is better?)
COLUMN_GROUPS: tuple[tuple[str, str, str, bool], ...] = (
    ("n_slices", "Data", "slices scored", True),
    ("mag_", "Magnitude (non-key frames)", "PSNR dB / SSIM on [0, 1]; tissue = foreground only", True),
    ("myo_dice", "Myocardium (non-key frames)", "Dice of the synthesised mask", True),
    ("vel_psnr", "Velocity PSNR (all frames)", "dB, velocity / VENC, data range 2; tissue = foreground only", True),
    ("vel_ssim", "Velocity SSIM (all frames)", "velocity / VENC, data range 2; tissue = foreground only", True),
    ("vel_mae", "Velocity error in the myocardium", "mean |error| in cm/s (true: vs noise-free phantom)", False),
    ("vel_skill", "Velocity skill", "1 - MAE / MAE(zero velocity), on the error against the truth where known", True),
    ("curve_", "Global velocity curves", "Pearson r and RMSE (cm/s) vs the acquired curve", True),
    ("peak_err_mean", "Mean peak errors", "over the 3 components x 3 peaks: cm/s, and frames for the times", False),
    ("ttp_err_mean", "Mean peak errors", "over the 3 components x 3 peaks: cm/s, and frames for the times", False),
    ("peak_err", "Peak velocity errors", "|synthesised - acquired| of the global peak, cm/s", False),
    ("ttp_err", "Time-to-peak errors", "|synthesised - acquired| time to peak, ms", False),
    ("fid", "FID", "Frechet Inception Distance of the velocity maps", False),
)


@dataclass
class Figure:
    path: str  # relative to the page that shows it
    caption: str


@dataclass
class Section:
    title: str
    figures: list[Figure] = field(default_factory=list)
    note: str = ""


def safe_name(text: str) -> str:
    """A file-name-safe version of a subject, slice or method name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "x"


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
            f'<td class="{"best" if i == best else ""}">{html.escape(display_value(v, col))}</td>'
            for i, v in enumerate(values)
        )
        lines.append(f'<tr><td class="name">{html.escape(col)}</td>{cells}</tr>')
    lines.append("</table>")
    return "\n".join(lines)


def data_table(
    rows: Sequence[Mapping[str, object]],
    columns: Sequence[str],
    links: Mapping[str, Mapping[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> str:
    """A plain table, a row per row; ``links[column][value]`` makes that cell a link (a subject id to its
    page). Numbers are rounded by their column's rule; text is left-aligned."""
    links = links or {}
    headers = headers or {}

    def cell(col: str, value: object) -> str:
        text = html.escape(display_value(value, col))
        href = links.get(col, {}).get(str(value))
        if href is not None:
            text = f'<a href="{html.escape(href)}">{text}</a>'
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        return f"<td>{text}</td>" if numeric else f'<td class="text">{text}</td>'

    head = "".join(f'<th class="text">{html.escape(headers.get(c, c))}</th>' for c in columns)
    body = ["<tr>" + "".join(cell(c, r.get(c)) for c in columns) + "</tr>" for r in rows]
    return "\n".join(['<table class="data">', f"<tr>{head}</tr>", *body, "</table>"])


def info_block(info: Mapping[str, object]) -> str:
    items = "".join(f"<dt>{html.escape(str(k))}</dt><dd>{html.escape(str(v))}</dd>" for k, v in info.items())
    return f'<dl class="info">{items}</dl>'


def notes_html(notes: Sequence[str]) -> str:
    return "".join(f'<p class="note">{html.escape(n)}</p>' for n in notes)


def files_list(files: Sequence[tuple[str, str]]) -> str:
    """A bulleted list of (relative path, description) links."""
    items = "".join(f'<li><a href="{html.escape(p)}">{html.escape(p)}</a>: {html.escape(d)}</li>' for p, d in files)
    return f'<ul class="files">{items}</ul>'


def figures_html(figures: Sequence[Figure], side_by_side: bool = False) -> str:
    """Figures (each image links to itself at full size), stacked, or in a wrapping row to compare."""
    parts = []
    for f in figures:
        src = html.escape(f.path)
        parts.append(
            f'<figure><a href="{src}"><img src="{src}" alt="{html.escape(f.caption)}"></a>'
            f"<figcaption>{html.escape(f.caption)}</figcaption></figure>"
        )
    return f'<div class="figrow">{"".join(parts)}</div>' if side_by_side else "\n".join(parts)


def render_page(title: str, body: Sequence[str]) -> str:
    """A whole page: ``body`` is a sequence of HTML fragments (escaped by whoever built them)."""
    head = f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n<title>{html.escape(title)}</title>'
    return "\n".join([f"{head}<style>{CSS}</style></head><body>", *body, "</body></html>\n"])


def page_links(text: str) -> list[str]:
    """Every ``src`` and ``href`` of a page, unescaped."""
    return [html.unescape(link) for link in re.findall(r'(?:src|href)="([^"]+)"', text)]


def write_page(path: str | os.PathLike, text: str, pending: Collection[str] = ()) -> Path:
    """Write a page atomically after checking that each of its links is relative and names an existing
    file, relative to the page's folder; ``pending`` lists links to pages written afterwards."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)  # "../x" resolves only from an existing folder
    bad = [link for link in page_links(text) if "://" in link or link.startswith("/")]
    missing = [link for link in page_links(text) if link not in pending and not (path.parent / link).is_file()]
    if bad:
        raise FileNotFoundError(f"{path}: the page would link outside the report folder: {bad[:5]}")
    if missing:
        raise FileNotFoundError(f"{path}: the page would link to missing files {missing[:5]}")
    return write_text(path, text)
