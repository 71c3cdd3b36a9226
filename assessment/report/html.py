"""HTML pages of the reports: self-contained pages that open from disk.

No server, no scripts, no external resources: inline CSS and relative links only, so the results folder
can be zipped, mailed or opened on a cluster's file browser. Every link is checked when a page is
written (a broken image in a report is worse than an error). Numbers are rounded by the one display
rule of ``assessment.tables`` (CSV files keep full precision). The method summary is shown transposed (one
row per metric, one column per method), each metric named by ``assessment.metric_names`` with its unit, the
direction that is better and a "how to read" line per group, and the best values of each row in green
(all of them when they tie); the headline metrics first, every metric in a folded table below.
"""

from __future__ import annotations

import html
import math
import os
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from assessment.metric_names import GROUP_NOTES, best_indices, describe, key_columns
from assessment.tables import display_cell
from util.atomic import write_text

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
td.metric { text-align: left; } td.better { text-align: left; color: #777; font-size: 11px; }
tr.group .note { font-weight: normal; } details { margin: 8px 0; } summary { cursor: pointer; font-size: 13px; }
dl.info { display: grid; grid-template-columns: max-content auto; gap: 2px 14px; font-size: 13px; }
dl.info dt { font-weight: bold; } dl.info dd { margin: 0; font-family: monospace; }
figure { margin: 10px 0 18px 0; } figcaption { font-size: 12px; color: #555; }
img { max-width: 100%; border: 1px solid #eee; } .note { font-size: 12px; color: #555; }
ul.files { font-size: 13px; } td.text, th.text { text-align: left; } td.subject { font-family: monospace;
     text-align: left; vertical-align: top; } p.nav { font-size: 13px; } .figrow { display: flex;
     flex-wrap: wrap; gap: 12px; } .figrow figure { flex: 1 1 560px; margin: 6px 0; }
"""


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


def _metric_rows(summary: Sequence[Mapping[str, object]], columns: Sequence[str]) -> list[str]:
    """Rows of the transposed metrics table: a heading row with its "how to read" line per group (groups
    in ``GROUP_NOTES`` order), then a row per metric named for people; every best value is marked."""
    names = [describe(c) for c in columns]
    order = list(GROUP_NOTES)
    names.sort(key=lambda n: order.index(n.group) if n.group in order else len(order))
    lines, current = [], None
    for name in names:
        if name.group != current:
            current = name.group
            note = f' <span class="note">{html.escape(GROUP_NOTES.get(current, ""))}</span>'
            lines.append(f'<tr class="group"><td colspan="{len(summary) + 2}">{html.escape(current)}{note}</td></tr>')
        texts = [display_cell({name.column: math.nan, **r}, name.column) for r in summary]
        best = best_indices([_shown_number(t) for t in texts], name.better)  # ties as shown are ties
        cells = "".join(f'<td class="{"best" if i in best else ""}">{html.escape(t)}</td>' for i, t in enumerate(texts))
        lines.append(
            f'<tr><td class="metric" title="{html.escape(name.column)}">{html.escape(name.header)}</td>'
            f'<td class="better">{html.escape(name.better or "")}</td>{cells}</tr>'
        )
    return lines


def _shown_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _metrics_block(summary: Sequence[Mapping[str, object]], columns: Sequence[str]) -> str:
    methods = "".join(f"<th>{html.escape(str(r['method']))}</th>" for r in summary)
    descriptions = "".join(f'<td class="help">{html.escape(str(r.get("description", "")))}</td>' for r in summary)
    return "\n".join(
        [
            f'<table><tr><th class="text">metric</th><th class="text">better</th>{methods}</tr>',
            f'<tr><td class="metric">method</td><td></td>{descriptions}</tr>',
            *_metric_rows(summary, columns),
            "</table>",
        ]
    )


def metrics_table(summary: Sequence[Mapping[str, object]], columns: Sequence[str]) -> str:
    """The metrics transposed (a row per metric, a column per method), grouped, named for people, best
    values in green (ties alike): the headline metrics, then every metric in a folded table."""
    shown = [c for c in columns if c not in ("method", "description")]
    key = [c for c in key_columns(shown) if c in shown]
    parts = [_metrics_block(summary, key)]
    if len(key) < len(shown):
        parts.append(
            f"<details><summary>All {len(shown)} metrics (names as in metrics.csv when the pointer rests on "
            f"one)</summary>{_metrics_block(summary, shown)}</details>"
        )
    return "\n".join(parts)


def data_table(
    rows: Sequence[Mapping[str, object]],
    columns: Sequence[str],
    links: Mapping[str, Mapping[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
    missing: str = "n/a",
) -> str:
    """A plain table, a row per row; ``links[column][value]`` makes that cell a link (a subject id to its
    page). Headings are ``headers`` or the column's name for people (``assessment.metric_names``); numbers are
    rounded by their column's rule; text is left-aligned; a missing value reads ``missing``."""
    links = links or {}
    headers = headers or {}

    def cell(col: str, row: Mapping[str, object]) -> str:
        value = row.get(col)
        text = html.escape(display_cell(row, col, missing))
        href = links.get(col, {}).get(str(value))
        if href is not None:
            text = f'<a href="{html.escape(href)}">{text}</a>'
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        return f"<td>{text}</td>" if numeric else f'<td class="text">{text}</td>'

    head = "".join(
        f'<th class="text" title="{html.escape(c)}">{html.escape(headers.get(c) or describe(c).header)}</th>'
        for c in columns
    )
    body = ["<tr>" + "".join(cell(c, r) for c in columns) + "</tr>" for r in rows]
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
