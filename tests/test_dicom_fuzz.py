"""Hardening of the DICOM reader: corrupted series import or fail with one line.

A valid hand-built scan is corrupted one way per example (a tag removed, a value of the wrong type,
pixel data of the wrong size, contradictory geometry or bit depth); ``data.scanner.import_dicom``'s command
must then either succeed or stop with the project's own error (exit 2, ``error: ...``), never a
traceback, and must leave no output file. Derandomised and bounded so it takes a few seconds.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom import dcmread
from test_dicom import hand_scan

from data.scanner.import_dicom import main

TAGS = [
    "ImageType",
    "SeriesInstanceUID",
    "SOPInstanceUID",
    "TriggerTime",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "PixelSpacing",
    "Rows",
    "Columns",
    "BitsStored",
    "RescaleSlope",
    "RescaleIntercept",
    "SequenceName",
    "SeriesDescription",
    "NominalInterval",
    "PixelData",
    "Manufacturer",
    "BitsAllocated",
    "PixelRepresentation",
    "SamplesPerPixel",
]
BAD_VALUES = {
    "TriggerTime": ["abc", "nan", "-1e400", ""],
    "PixelSpacing": [["0", "0"], ["1"], ["-1", "2"], ["inf", "1"]],
    "ImageOrientationPatient": [["0"] * 6, ["1", "0", "0", "1", "0", "0"], ["1", "0"], ["nan"] * 6],
    "ImagePositionPatient": [["a", "b", "c"], ["1e300", "0", "0"], ["0"]],
    "Rows": [0, 1, 65535],
    "Columns": [0, 3, 65535],
    "BitsStored": [0, 1, 8, 17],
    "RescaleSlope": ["0", "x", "1e308"],
    "RescaleIntercept": ["x", "-1e308"],
    "SequenceName": ["fl2d1_v0in", "fl2d1_v-3through", "fl2d1_v1e999in", "_v"],
    "NominalInterval": ["0", "-5", "x"],
    "BitsAllocated": [8, 32, 1],
    "SamplesPerPixel": [3, 0],
    "PixelRepresentation": [1],
}


@pytest.fixture(scope="module")
def valid_scan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz") / "scan"
    hand_scan(root, "siemens", n_slices=1)
    return root


def corrupt(folder: Path, index: int, action: str, tag: str, choice: int, cut: int) -> None:
    files = sorted(folder.iterdir())
    path = files[index % len(files)]
    ds = dcmread(path, force=True)
    if action == "delete" and tag in ds:
        delattr(ds, tag)
    elif action == "value" and tag in BAD_VALUES:
        values = BAD_VALUES[tag]
        try:
            setattr(ds, tag, values[choice % len(values)])
        except (ValueError, TypeError, OverflowError):
            return  # pydicom refuses to write it: not a file the importer can meet
    elif action == "pixels" and ds.get("PixelData") is not None:
        data = ds.PixelData
        ds.PixelData = data[: len(data) * cut // 8] if cut < 8 else data + b"\x00\x10" * cut
    with contextlib.suppress(ValueError, TypeError, OverflowError, AttributeError, KeyError):
        ds.save_as(path)  # an unwritable corruption leaves the file as it was
    if action == "truncate":
        raw = path.read_bytes()
        path.write_bytes(raw[: max(1, len(raw) * cut // 16)])


@settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    files=st.lists(st.integers(0, 10_000), min_size=1, max_size=3),
    action=st.sampled_from(["delete", "value", "pixels", "truncate"]),
    tag=st.sampled_from(TAGS),
    choice=st.integers(0, 5),
    cut=st.integers(0, 15),
)
def test_corrupted_series_import_or_fail_with_one_line(
    valid_scan: Path, tmp_path: Path, capsys: pytest.CaptureFixture, files, action, tag, choice, cut
) -> None:
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    shutil.copytree(valid_scan, work / "scan")
    for index in files:
        corrupt(work / "scan", index, action, tag, choice, cut)
    out = work / "out.h5"
    code = main(
        [str(work / "scan"), str(out), "--venc", "20", "20", "30"] if choice % 2 else [str(work / "scan"), str(out)]
    )
    err = capsys.readouterr().err
    assert code in (0, 2)
    if code == 2:
        assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
        assert not out.exists()
    else:
        assert out.exists()
    shutil.rmtree(work)
