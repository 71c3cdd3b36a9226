"""What a phantom cohort's subjects were given: healthy or patient, the kind of pathology and one line
each, read from the files' attributes (``python -m data.phantom`` prints it after writing a cohort)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from data.mvm_io import SUBJECT_SUFFIX, read_subject_attrs


def cohort_pathology(paths: Sequence[str | Path]) -> list[tuple[bool, str, str]]:
    """Per subject file: whether it is a patient, the kind of pathology (``none``, ``segments``,
    ``territory``, ``lbbb``, ``global``) and one line of what it got (the file's ``patient`` and
    ``pathology`` attributes; files written before they existed read as healthy)."""
    out = []
    for path in paths:
        attrs = read_subject_attrs(path)
        record = attrs.get("phantom", {}).get("pathology", {})
        kind = record.get("kind", "none") if isinstance(record, dict) else "none"
        out.append((bool(attrs.get("patient", False)), kind, str(attrs.get("pathology", "healthy"))))
    return out


def pathology_table(folder: str | Path) -> str:
    """Markdown summary of a cohort's pathology: how many subjects of each kind, and per patient what
    was drawn."""
    files = sorted(Path(folder).glob(f"*{SUBJECT_SUFFIX}"))
    records = cohort_pathology(files)
    kinds: dict[str, int] = {}
    for patient, kind, _ in records:
        group = kind if patient else "healthy"
        kinds[group] = kinds.get(group, 0) + 1
    lines = ["| kind | subjects |", "|---|---|"]
    lines += [f"| {kind} | {count} |" for kind, count in sorted(kinds.items())]
    lines += ["", "| subject | pathology |", "|---|---|"]
    lines += [f"| {path.stem} | {text} |" for path, (patient, _, text) in zip(files, records, strict=True) if patient]
    return "\n".join(lines)
