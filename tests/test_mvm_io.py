"""The subject file format: round trip, validation messages, atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from data.mvm_io import SliceData, Subject, read_subject, write_subject
from util.errors import DataError


def make_slice(name: str = "mid", t: int = 6, h: int = 16, w: int = 20, seed: int = 0) -> SliceData:
    rng = np.random.default_rng(seed)
    myo = np.zeros((t, h, w), np.uint8)
    myo[:, 4:10, 5:12] = 1
    return SliceData(
        name=name,
        magnitude=rng.random((t, h, w), dtype=np.float32) * 1000,
        myocardium=myo,
        velocity=rng.normal(size=(t, 3, h, w)).astype(np.float32),
        venc_cm_s=np.array([20.0, 20.0, 25.0]),
        pixel_spacing_mm=(1.5, 1.4),
        rr_interval_ms=900.0,
        slice_position=name if name in ("basal", "mid", "apical") else "mid",
        rv_insertion_deg=170.0,
        attrs={"params": {"snr": 22.5, "delays": [0.1, 0.2]}},
    )


def write_one(path: Path, **changes) -> Path:
    s = make_slice()
    for k, v in changes.items():
        setattr(s, k, v)
    return write_subject(path, Subject("s1", {"mid": s}, {"cohort": "test"}))


def test_round_trip_keeps_arrays_and_attributes(tmp_path: Path) -> None:
    s = make_slice("basal")
    path = write_subject(tmp_path / "a.h5", Subject("a", {"basal": s}, {"seed": 3}))
    back = read_subject(path)
    r = back.slices["basal"]
    assert back.subject_id == "a" and back.attrs["seed"] == 3
    np.testing.assert_array_equal(r.magnitude, s.magnitude)
    np.testing.assert_array_equal(r.velocity, s.velocity)
    np.testing.assert_array_equal(r.myocardium, s.myocardium)
    assert r.myocardium.dtype == np.uint8 and r.velocity.dtype == np.float32
    np.testing.assert_allclose(r.venc_cm_s, [20, 20, 25])
    assert r.pixel_spacing_mm == (1.5, 1.4) and r.rr_interval_ms == 900.0
    assert r.rv_insertion_deg == 170.0 and r.z_towards_apex == 1 and r.slice_position == "basal"
    assert r.attrs["params"] == {"snr": 22.5, "delays": [0.1, 0.2]}
    np.testing.assert_allclose(r.frame_times_ms(), np.arange(6) * 150.0)


def test_key_frame_only_file(tmp_path: Path) -> None:
    s = make_slice(t=4)
    s.velocity = None
    s.frame_index = np.array([0, 6, 12, 18])
    s.n_frames = 24
    path = write_subject(tmp_path / "k.h5", Subject("k", {"mid": s}))
    with pytest.raises(DataError, match=r"k\.h5: slice 'mid': missing dataset 'velocity'"):
        read_subject(path)
    r = read_subject(path, require_velocity=False).slices["mid"]
    assert r.cycle_frames == 24 and r.num_frames == 4 and r.frame_index.tolist() == [0, 6, 12, 18]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"velocity": np.zeros((6, 3, 16, 19), np.float32)}, r"field 'velocity' has shape \(6, 3, 16, 19\)"),
        ({"myocardium": np.zeros((5, 16, 20), np.uint8)}, r"field 'myocardium' has shape \(5, 16, 20\)"),
        ({"venc_cm_s": np.array([20.0, 0.0, 25.0])}, "'venc_cm_s' must be 3 positive numbers"),
        ({"magnitude": np.ones((2, 16, 20), np.float32)}, "has 2 frames; at least 3 are needed"),
        ({"slice_position": "middle"}, "'slice_position' is 'middle'"),
    ],
)
def test_writer_refuses_invalid_slices(tmp_path: Path, change: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        write_one(tmp_path / "bad.h5", **change)
    assert not (tmp_path / "bad.h5").exists()
    assert list(tmp_path.iterdir()) == []


def _corrupt(path: Path, group: str, dataset: str, value: np.ndarray | None) -> None:
    with h5py.File(path, "a") as f:
        del f[group][dataset]
        if value is not None:
            f[group].create_dataset(dataset, data=value)


@pytest.mark.parametrize(
    ("dataset", "value", "message"),
    [
        ("velocity", None, "slice 'mid': missing dataset 'velocity'"),
        ("magnitude", None, "slice 'mid': missing dataset 'magnitude'"),
        ("velocity", np.zeros((6, 3, 8, 8), np.float32), "field 'velocity' has shape"),
        ("myocardium", np.full((6, 16, 20), 2, np.uint8), "field 'myocardium' is not a binary mask"),
        ("magnitude", np.full((6, 16, 20), np.nan, np.float32), "field 'magnitude' has 1920 non-finite values"),
        ("velocity", np.full((6, 3, 16, 20), np.inf, np.float32), "field 'velocity' has 5760 non-finite"),
        ("magnitude", np.ones((2, 16, 20), np.float32), "has 2 frames; at least 3"),
    ],
)
def test_reader_names_file_slice_field_and_problem(tmp_path: Path, dataset: str, value, message: str) -> None:
    path = write_one(tmp_path / "s.h5")
    _corrupt(path, "mid", dataset, value)
    with pytest.raises(DataError) as info:
        read_subject(path)
    text = str(info.value)
    assert str(path) in text and message in text
    assert "\n" not in text


def test_reader_checks_attributes(tmp_path: Path) -> None:
    path = write_one(tmp_path / "s.h5")
    with h5py.File(path, "a") as f:
        f["mid"].attrs["venc_cm_s"] = np.array([20.0, -1.0, 25.0])
    with pytest.raises(DataError, match="'venc_cm_s' must be 3 positive numbers"):
        read_subject(path)
    with h5py.File(path, "a") as f:
        del f["mid"].attrs["venc_cm_s"]
    with pytest.raises(DataError, match="missing attribute 'venc_cm_s'"):
        read_subject(path)


def test_truncated_and_foreign_files(tmp_path: Path) -> None:
    path = write_one(tmp_path / "s.h5")
    data = path.read_bytes()
    truncated = tmp_path / "t.h5"
    truncated.write_bytes(data[: len(data) // 3])
    with pytest.raises(DataError, match=r"t\.h5: not a readable HDF5 file"):
        read_subject(truncated)
    text = tmp_path / "x.h5"
    text.write_text("not hdf5")
    with pytest.raises(DataError, match=r"x\.h5: not a readable HDF5 file"):
        read_subject(text)
    with pytest.raises(DataError, match="file not found"):
        read_subject(tmp_path / "missing.h5")
    empty = tmp_path / "e.h5"
    h5py.File(empty, "w").close()
    with pytest.raises(DataError, match="contains no slice groups"):
        read_subject(empty)


def test_failed_write_keeps_the_existing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_one(tmp_path / "s.h5")
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    import data.mvm_io as mvm_io

    monkeypatch.setattr(mvm_io, "_write_slice", boom)
    with pytest.raises(DataError, match="No space left on device"):
        write_one(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.h5"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_unwritable_folder_is_a_data_error(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(DataError, match="cannot write"):
            write_one(folder / "s.h5")
    finally:
        folder.chmod(0o700)


def test_slice_order_and_numpy_attributes_survive(tmp_path: Path) -> None:
    slices = {n: make_slice(n) for n in ("basal", "mid", "apical")}
    slices["mid"].attrs = {"params": {"snr": np.float32(21.5), "radii": np.array([20.0, 28.0])}}
    path = write_subject(tmp_path / "o.h5", Subject("o", slices))
    back = read_subject(path)
    assert list(back.slices) == ["basal", "mid", "apical"]
    assert back.slices["mid"].attrs["params"] == {"snr": 21.5, "radii": [20.0, 28.0]}


@pytest.mark.parametrize("compression", [None, "gzip"])
def test_damage_inside_a_subject_file_fails_its_checksum(tmp_path: Path, compression: str | None) -> None:
    s = make_slice(t=8, h=48, w=48)
    path = write_subject(tmp_path / "s.h5", Subject("s1", {"mid": s}), compression=compression)
    with h5py.File(path, "r") as f:
        assert all(f["mid"][name].fletcher32 for name in ("magnitude", "velocity", "myocardium"))
        chunk = f["mid"]["velocity"].id.get_chunk_info(4)  # a frame in the middle of the cine
    raw = bytearray(path.read_bytes())
    raw[chunk.byte_offset : chunk.byte_offset + chunk.size // 2] = bytes(chunk.size // 2)
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError) as info:
        read_subject(path)
    text = str(info.value)
    assert text.startswith(f"{path}: slice 'mid': dataset 'velocity' fails its checksum"), text
    assert "\n" not in text


def test_files_without_checksums_are_said_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import data.mvm_io as mvm_io

    monkeypatch.setattr(mvm_io, "UNVERIFIED_FILES", [])
    paths = [write_one(tmp_path / f"s{i}.h5") for i in range(2)]
    read_subject(paths[0])
    assert capsys.readouterr().err == ""  # the project's own files carry checksums
    for path in paths:  # as an older version wrote them: no checksums
        with h5py.File(path, "a") as f:
            for name in list(f["mid"]):
                data = f["mid"][name][()]
                del f["mid"][name]
                f["mid"].create_dataset(name, data=data)
    for path in [*paths, *paths]:
        read_subject(path)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "without checksums cannot be verified" in err[0] and str(paths[0]) in err[0], err
    assert paths == mvm_io.UNVERIFIED_FILES
