"""NIfTI import and export: axis convention, phase units, round trip, error cases, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from test_dicom import tool

from data.mvm_io import SliceData, Subject, read_subject
from data.scanner.export_dicom import export_dicom
from data.scanner.export_nifti import export_nifti
from data.scanner.import_nifti import import_nifti, phase_to_velocity
from util.errors import DataError, OptionError

ROOT = Path(__file__).resolve().parents[1]
QUIET = {"log": lambda m: None}


def save(path: Path, data: np.ndarray, zooms=(1.25, 1.5, 8.0, 20.0), units=("mm", "msec")) -> Path:
    spatial = (*zooms[:3], 1.0, 1.0)[:3]
    img = nib.Nifti1Image(np.asarray(data), affine=np.diag([*spatial, 1.0]))
    img.header.set_zooms(zooms[: data.ndim])
    img.header.set_xyzt_units(*units)
    nib.save(img, str(path))
    return path


def volumes(tmp_path: Path, shape=(10, 8, 3, 5), venc=(20.0, 20.0, 30.0), seed=0) -> dict:
    """Magnitude, three cm/s phase volumes and a myocardium mask, shape (x, y, slice, time)."""
    rng = np.random.default_rng(seed)
    out = {"magnitude": save(tmp_path / "mag.nii.gz", rng.random(shape).astype(np.float32) * 100)}
    out["phase"] = [
        save(tmp_path / f"v{a}.nii.gz", ((rng.random(shape) * 2 - 1) * venc[k]).astype(np.float32))
        for k, a in enumerate("xyz")
    ]
    out["myocardium"] = save(tmp_path / "myo.nii.gz", (rng.random(shape) > 0.7).astype(np.uint8))
    return out


def test_axis_convention_rows_are_y_and_columns_are_x(tmp_path: Path) -> None:
    v = volumes(tmp_path)
    vol = np.asarray(nib.load(v["magnitude"]).dataobj)
    vx = np.asarray(nib.load(v["phase"][0]).dataobj)
    myo = np.asarray(nib.load(v["myocardium"]).dataobj)
    subject = import_nifti(v["magnitude"], v["phase"], (20, 20, 30), myocardium=v["myocardium"], **QUIET)
    assert list(subject.slices) == ["basal", "mid", "apical"]
    for s, sl in enumerate(subject.slices.values()):
        assert sl.magnitude.shape == (5, 8, 10)  # [T, H = y, W = x]
        for t in (0, 4):
            np.testing.assert_array_equal(sl.magnitude[t], vol[:, :, s, t].T)
            np.testing.assert_array_equal(sl.velocity[t, 0], vx[:, :, s, t].T)
            np.testing.assert_array_equal(sl.myocardium[t], myo[:, :, s, t].T)
        assert sl.pixel_spacing_mm == (1.5, 1.25)  # (row = y size, column = x size)
        assert sl.rr_interval_ms == pytest.approx(5 * 20.0)
        assert sl.attrs["mask_source"] == "nifti" and sl.venc_cm_s.tolist() == [20, 20, 30]
    reverse = import_nifti(v["magnitude"], v["phase"], (20, 20, 30), order="apex_first", **QUIET)
    assert [s.slice_position for s in reverse.slices.values()] == ["apical", "mid", "basal"]
    np.testing.assert_array_equal(reverse.slices["apical"].magnitude[0], vol[:, :, 0, 0].T)


def test_phase_units() -> None:
    raw = np.array([0.0, 2048.0, 4095.0])
    np.testing.assert_allclose(phase_to_velocity(raw, 20.0, "raw12", "f", **QUIET), [-20.0, 0.0, 20.0 - 40 / 4096])
    rescaled = np.array([-4096.0, 0.0, 4094.0])  # what a converter applying slope 2 / intercept -4096 writes
    expected = [-20.0, 0.0, 20.0 * 4094 / 4096]
    np.testing.assert_allclose(phase_to_velocity(rescaled, 20.0, "raw12", "f", **QUIET), expected)
    np.testing.assert_allclose(
        phase_to_velocity(np.array([-np.pi, np.pi / 2]), 30.0, "radians", "f", **QUIET), [-30.0, 15.0]
    )
    with pytest.raises(DataError, match=r"outside \[-pi, pi\]"):
        phase_to_velocity(np.array([4.0]), 30.0, "radians", "f")
    with pytest.raises(DataError, match="not 12-bit phase"):
        phase_to_velocity(np.array([5000.0]), 30.0, "raw12", "f")
    warned: list[str] = []
    phase_to_velocity(np.array([2000.0]), 30.0, "cm_s", "f.nii", log=warned.append)
    assert len(warned) == 1 and "exceed VENC" in warned[0]


def make_subject() -> Subject:
    rng = np.random.default_rng(3)
    t, h, w = 6, 9, 11
    slices = {}
    for name in ("basal", "apical"):
        myo = (rng.random((t, h, w)) > 0.6).astype(np.uint8)
        slices[name] = SliceData(
            name=name,
            magnitude=rng.random((t, h, w), dtype=np.float32) * 50,
            myocardium=myo,
            lv_blood=1 - myo,
            velocity=(rng.standard_normal((t, 3, h, w)) * 5).astype(np.float32),
            venc_cm_s=np.array([18.0, 18.0, 26.0]),
            pixel_spacing_mm=(1.7, 1.3),
            rr_interval_ms=930.0,
            slice_position=name,
            z_towards_apex=-1,
        )
    return Subject("nx01", slices)


def test_export_import_round_trip(tmp_path: Path) -> None:
    subject = make_subject()
    paths = export_nifti(subject, tmp_path / "nii", **QUIET)
    names = sorted(p.name for p in paths if p.name.endswith(".nii.gz"))
    assert len(paths) - len(names) == 2 * 4  # sidecars: the magnitude's and the three velocities'
    assert names[:6] == [
        "nx01_apical_lv_blood.nii.gz",
        "nx01_apical_magnitude.nii.gz",
        "nx01_apical_myocardium.nii.gz",
        "nx01_apical_vx.nii.gz",
        "nx01_apical_vy.nii.gz",
        "nx01_apical_vz.nii.gz",
    ]
    assert len(names) == 12 and not list((tmp_path / "nii").glob(".*"))  # no temporary files left
    img = nib.load(tmp_path / "nii" / "nx01_basal_vz.nii.gz")
    assert img.shape == (11, 9, 1, 6) and img.header.get_xyzt_units() == ("mm", "msec")
    for name, s in subject.slices.items():
        f = {
            k: tmp_path / "nii" / f"nx01_{name}_{k}.nii.gz"
            for k in ("magnitude", "vx", "vy", "vz", "myocardium", "lv_blood")
        }
        back = import_nifti(
            f["magnitude"],
            [f["vx"], f["vy"], f["vz"]],
            s.venc_cm_s,
            myocardium=f["myocardium"],
            lv_blood=f["lv_blood"],
            slice_positions=[name],
            z_towards_apex=-1,
            subject_id="nx01",
            **QUIET,
        )
        r = back.slices[name]
        np.testing.assert_array_equal(r.magnitude, s.magnitude)
        np.testing.assert_array_equal(r.velocity, s.velocity)
        np.testing.assert_array_equal(r.myocardium, s.myocardium)
        np.testing.assert_array_equal(r.lv_blood, s.lv_blood)
        assert r.pixel_spacing_mm == pytest.approx(s.pixel_spacing_mm)
        assert r.rr_interval_ms == pytest.approx(s.rr_interval_ms, rel=1e-5) and r.z_towards_apex == -1


def test_every_slice_of_an_export_reads_back_as_the_subject(tiny_cohort: Path, tmp_path: Path) -> None:
    """export_nifti then import_nifti --exported: the same slices in the same order, shapes, values and
    attributes, without any option (VENC, units, RR and positions come from the sidecars)."""
    from data.mvm_io import write_subject
    from data.splits import list_subjects

    path = next(iter(list_subjects(tiny_cohort).values()))
    subject = read_subject(path)
    export_nifti(subject, tmp_path / "nii", **QUIET)
    done = run_cli("data.scanner.import_nifti", "--exported", str(tmp_path / "nii" / subject.subject_id),
                   str(tmp_path / "back.h5"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    back = read_subject(tmp_path / "back.h5")
    assert back.subject_id == subject.subject_id
    assert list(back.slices) == list(subject.slices) == ["basal", "mid", "apical"]
    for key, value in subject.attrs.items():
        np.testing.assert_equal(back.attrs[key], value, err_msg=key)
    for name, s in subject.slices.items():
        r = back.slices[name]
        np.testing.assert_array_equal(r.magnitude, s.magnitude)
        np.testing.assert_allclose(r.velocity, s.velocity, rtol=1e-6, atol=1e-5)
        for mask in ("myocardium", "lv_blood", "rv_blood", "tissue"):
            np.testing.assert_array_equal(getattr(r, mask), getattr(s, mask), err_msg=mask)
        np.testing.assert_allclose(r.venc_cm_s, s.venc_cm_s)
        assert r.pixel_spacing_mm == pytest.approx(s.pixel_spacing_mm, rel=1e-6)
        assert r.rr_interval_ms == pytest.approx(s.rr_interval_ms, rel=1e-9)
        assert (r.slice_position, r.z_towards_apex) == (s.slice_position, s.z_towards_apex)
        assert r.rv_insertion_deg == pytest.approx(s.rv_insertion_deg)
        for key, value in s.attrs.items():
            np.testing.assert_equal(r.attrs[key], value, err_msg=f"{name}: {key}")
    assert r.velocity_true is None  # the truth is not exported
    write_subject(tmp_path / "again.h5", back)  # and it is a valid subject


def test_three_d_single_slice_needs_rr(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    mag = save(tmp_path / "m.nii", rng.random((10, 8, 4)).astype(np.float32), zooms=(1.0, 1.2, 1.0))
    ph = [save(tmp_path / f"p{k}.nii", np.full((10, 8, 4), 2048.0), zooms=(1.0, 1.2, 1.0)) for k in range(3)]
    with pytest.raises(DataError, match="pass --rr"):
        import_nifti(mag, ph, (20, 20, 20), phase_units="raw12", **QUIET)
    subject = import_nifti(mag, ph, (20, 20, 20), phase_units="raw12", rr=800, **QUIET)
    sl = subject.slices["mid"]
    assert subject.subject_id == "m" and sl.magnitude.shape == (4, 8, 10) and sl.rr_interval_ms == 800
    assert np.all(sl.velocity == 0.0) and sl.attrs["mask_source"] == "none" and not sl.myocardium.any()


def test_error_cases(tmp_path: Path) -> None:
    v = volumes(tmp_path)
    small = save(tmp_path / "small.nii.gz", np.zeros((10, 8, 3, 4), np.float32))
    with pytest.raises(
        DataError, match=r"small.nii.gz: phase y has 3 slice\(s\) of 4 frames .* the magnitude has 3 slice\(s\) of 5"
    ):
        import_nifti(v["magnitude"], [v["phase"][0], small, v["phase"][2]], (20, 20, 30), **QUIET)
    bad_mask = save(tmp_path / "bad.nii.gz", np.full((10, 8, 3, 5), 2, np.uint8))
    with pytest.raises(DataError, match="not a binary mask"):
        import_nifti(v["magnitude"], v["phase"], (20, 20, 30), myocardium=bad_mask, **QUIET)
    with pytest.raises(DataError, match="magnitude file not found"):
        import_nifti(tmp_path / "none.nii.gz", v["phase"], (20, 20, 30), **QUIET)
    (tmp_path / "fake.nii.gz").write_text("not an image")
    with pytest.raises(DataError, match="not a readable NIfTI phase x image"):
        import_nifti(v["magnitude"], [tmp_path / "fake.nii.gz", *v["phase"][1:]], (20, 20, 30), **QUIET)
    flat = save(tmp_path / "flat.nii.gz", np.zeros((10, 8), np.float32), zooms=(1.0, 1.0))
    with pytest.raises(DataError, match=r"expected \(x, y, slice, time\)"):
        import_nifti(flat, v["phase"], (20, 20, 30), **QUIET)
    with pytest.raises(OptionError, match="3 positive numbers"):
        import_nifti(v["magnitude"], v["phase"], (20, 0, 30))
    with pytest.raises(OptionError, match="--slice_positions needs 3"):
        import_nifti(v["magnitude"], v["phase"], (20, 20, 30), slice_positions=["mid"], **QUIET)
    with pytest.raises(DataError, match="exists and is not a folder"):
        export_nifti(make_subject(), v["magnitude"], **QUIET)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_cli(tmp_path: Path) -> None:
    v = volumes(tmp_path)
    args = ["data.scanner.import_nifti", str(tmp_path / "s.h5"), "--magnitude", str(v["magnitude"]), "--phase"]
    args += [str(p) for p in v["phase"]] + ["--venc", "20", "20", "30", "--myocardium", str(v["myocardium"])]
    done = run_cli(*args, "--rr", "900", "--subject", "cli")
    assert done.returncode == 0, done.stderr
    subject = read_subject(tmp_path / "s.h5")
    assert subject.subject_id == "cli" and subject.slices["mid"].rr_interval_ms == 900.0
    done = run_cli("data.scanner.export_nifti", str(tmp_path / "s.h5"), str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "out").glob("*.nii.gz"))) == 3 * 5
    bad = args.copy()
    bad[bad.index("--myocardium") + 1] = str(v["phase"][0])  # not a binary mask
    done = run_cli(*[a.replace("s.h5", "t.h5") for a in bad])
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ") and "binary" in lines[0]
    assert not (tmp_path / "t.h5").exists()
    done = run_cli("data.scanner.import_nifti", str(tmp_path / "t.h5"), "--magnitude", str(v["magnitude"]))
    assert done.returncode == 2 and done.stderr.startswith("error: ") and "--phase" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------- real client: dcm2niix


def dicom_twin(frames: int = 20) -> Subject:
    """Two slices of a smooth cine whose vy is mostly of one sign by row, so a mirror would show."""
    t, h, w = frames, 12, 14
    tt, yy, xx = np.meshgrid(np.arange(t), np.arange(h), np.arange(w), indexing="ij")
    slices = {}
    for i, name in enumerate(("basal", "apical")):
        venc = np.array([18.0, 20.0, 25.0 + i])
        vel = np.stack(
            [
                0.9 * venc[0] * np.sin(2 * np.pi * tt / t + i) * np.cos(0.3 * xx),
                0.9 * venc[1] * (yy / (h - 1) - 0.25) * np.cos(2 * np.pi * tt / t),  # vy grows down the rows
                0.9 * venc[2] * np.cos(2 * np.pi * tt / t) * np.sin(0.2 * (xx + yy)),
            ],
            axis=1,
        )
        slices[name] = SliceData(
            name=name,
            magnitude=(200 + 40 * yy + 7 * xx + tt).astype(np.float32),  # rows and columns both distinct
            myocardium=np.zeros((t, h, w), np.uint8),
            velocity=vel.astype(np.float32),
            venc_cm_s=venc,
            pixel_spacing_mm=(1.4, 1.2),
            rr_interval_ms=980.0,
            slice_position=name,
            z_towards_apex=1,
        )
    return Subject("d2n01", slices)


def test_dcm2niix_round_trip_keeps_orientation_signs_and_rr(tmp_path: Path) -> None:
    exe = tool("dcm2niix")
    subject = dicom_twin()
    export_dicom(subject, tmp_path / "dicom", **QUIET)
    (tmp_path / "nii").mkdir()
    done = subprocess.run(
        [exe, "-z", "y", "-b", "y", "-f", "%s", "-o", str(tmp_path / "nii"), str(tmp_path / "dicom")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(list((tmp_path / "nii").glob("*.nii.gz"))) == 8  # every series converted
    for i, (name, s) in enumerate(subject.slices.items()):
        # magnitude, vx, vy, vz by series number (dcm2niix adds _ph to the phase files)
        f = [next((tmp_path / "nii").glob(f"{10 * (i + 1) + c}*.nii.gz")) for c in range(4)]
        back = import_nifti(f[0], f[1:], slice_positions=[name], **QUIET).slices[name]  # VENC from sidecars
        quantum = 2 * s.venc_cm_s / 4096
        np.testing.assert_allclose(back.venc_cm_s, s.venc_cm_s)
        err = np.abs(back.velocity - s.velocity).max(axis=(0, 2, 3))
        assert np.all(err <= quantum * 1.001), err / quantum
        mag = s.magnitude.astype(np.float64)
        assert np.abs(back.magnitude - mag).max() <= (mag.max() - min(0, mag.min())) / 4095 / 2 * 1.001
        assert back.rr_interval_ms == pytest.approx(980.0) and back.attrs["rr_source"] == "JSON sidecar ImageComments"
        assert back.pixel_spacing_mm == pytest.approx(s.pixel_spacing_mm)


def test_dcm2niix_layout_without_sidecar_and_tr_is_not_the_frame_interval(tmp_path: Path) -> None:
    """Without the sidecar the left-handed affine alone restores the rows; the TR step is refused."""
    exe = tool("dcm2niix")
    subject = dicom_twin(frames=6)
    export_dicom(subject, tmp_path / "dicom", **QUIET)
    (tmp_path / "nii").mkdir()
    subprocess.run(
        [exe, "-b", "y", "-f", "%s", "-o", str(tmp_path / "nii"), str(tmp_path / "dicom")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    f = [next((tmp_path / "nii").glob(f"{10 + c}*.nii")) for c in range(4)]
    side = json.loads((tmp_path / "nii" / "10.json").read_text())
    side.pop("ImageComments")
    (tmp_path / "nii" / "10.json").write_text(json.dumps(side))
    with pytest.raises(DataError, match=r"time step 5.6 ms is the repetition time .*pass --rr"):
        import_nifti(f[0], f[1:], slice_positions=["basal"], **QUIET)
    for side_file in (tmp_path / "nii").glob("*.json"):
        side_file.unlink()
    s = subject.slices["basal"]
    back = import_nifti(f[0], f[1:], s.venc_cm_s, phase_units="raw12", rr=980, **QUIET).slices["mid"]
    assert np.abs(back.velocity - s.velocity).max() <= 2 * s.venc_cm_s.max() / 4096 * 1.001
    assert np.abs(back.magnitude - s.magnitude).max() < 0.5


# ------------------------------------------------------------------- single slices, twins, command line


def test_single_slice_affines_differ_only_through_plane(tmp_path: Path) -> None:
    """A one-slice mask whose converter wrote another slice spacing still fits; an in-plane difference
    is an error that names the numbers."""
    v = volumes(tmp_path, shape=(10, 8, 1, 5))  # magnitude affine diag(1.25, 1.5, 8)
    myo = np.asarray(nib.load(v["myocardium"]).dataobj)
    thin = save(tmp_path / "thin.nii.gz", myo, zooms=(1.25, 1.5, 1.0, 20.0))  # third column 1 mm, not 8
    back = import_nifti(v["magnitude"], v["phase"], (20, 20, 30), myocardium=thin, rr=900, **QUIET)
    np.testing.assert_array_equal(back.slices["mid"].myocardium, myo[:, :, 0].transpose(2, 1, 0))
    wide = save(tmp_path / "wide.nii.gz", myo, zooms=(1.3, 1.5, 8.0, 20.0))
    differs = r"voxel axis i is \[1\.3, 0\.0, 0\.0\] mm, the magnitude's \[1\.25, 0\.0, 0\.0\]"
    with pytest.raises(DataError, match=differs):
        import_nifti(v["magnitude"], v["phase"], (20, 20, 30), myocardium=wide, rr=900, **QUIET)
    (tmp_path / "stack").mkdir()
    stack = volumes(tmp_path / "stack", shape=(10, 8, 3, 5))
    spaced = save(tmp_path / "spaced.nii.gz", np.zeros((10, 8, 3, 5), np.uint8), zooms=(1.25, 1.5, 1.0, 20.0))
    differs = r"voxel axis k is \[0\.0, 0\.0, 1\.0\] mm, the magnitude's \[0\.0, 0\.0, 8\.0\]"
    with pytest.raises(DataError, match=differs):
        import_nifti(stack["magnitude"], stack["phase"], (20, 20, 30), myocardium=spaced, rr=900, **QUIET)


@pytest.mark.parametrize("method", ["hdl:demo", None])
def test_twin_marking_survives_nifti_export_and_import(tmp_path: Path, method: str | None) -> None:
    subject = make_subject()
    for s in subject.slices.values():
        if method:
            s.attrs["synthesised_by"] = method
    export_nifti(subject, tmp_path, **QUIET)
    sidecars = sorted(p.name for p in tmp_path.glob("*.json"))
    assert sidecars == [f"nx01_{s}_{f}.json" for s in ("apical", "basal") for f in ("magnitude", "vx", "vy", "vz")]
    f = {k: tmp_path / f"nx01_basal_{k}.nii.gz" for k in ("magnitude", "vx", "vy", "vz")}
    back = import_nifti(f["magnitude"], [f["vx"], f["vy"], f["vz"]], (18, 18, 26), slice_positions=["basal"], **QUIET)
    r = back.slices["basal"]
    assert r.attrs.get("synthesised_by") == method
    assert r.rr_interval_ms == pytest.approx(930.0, rel=1e-5)


def test_twin_marking_survives_dicom_dcm2niix_nifti(tmp_path: Path) -> None:
    exe = tool("dcm2niix")
    subject = dicom_twin(frames=6)
    for s in subject.slices.values():
        s.attrs["synthesised_by"] = "hdl:demo"
    export_dicom(subject, tmp_path / "twin", **QUIET)
    export_dicom(dicom_twin(frames=6), tmp_path / "acquired", **QUIET)
    for kind in ("twin", "acquired"):
        (tmp_path / f"nii_{kind}").mkdir()
        subprocess.run(
            [exe, "-z", "y", "-b", "y", "-f", "%s", "-o", str(tmp_path / f"nii_{kind}"), str(tmp_path / kind)],
            check=True,
            capture_output=True,
            timeout=120,
        )
    got = {}
    for kind in ("twin", "acquired"):
        f = [next((tmp_path / f"nii_{kind}").glob(f"{10 + c}*.nii.gz")) for c in range(4)]
        got[kind] = import_nifti(f[0], f[1:], slice_positions=["basal"], **QUIET).slices["basal"]
    assert got["twin"].attrs["synthesised_by"] == "hdl:demo"
    assert "synthesised_by" not in got["acquired"].attrs
    assert got["twin"].rr_interval_ms == pytest.approx(980.0)


def test_cli_output_after_slice_positions(tmp_path: Path) -> None:
    v = volumes(tmp_path, shape=(10, 8, 1, 5))
    base = ["data.scanner.import_nifti", "--magnitude", str(v["magnitude"]), "--phase", *map(str, v["phase"])]
    base += ["--venc", "20", "20", "30", "--rr", "900"]
    done = run_cli(*base, "--slice_positions", "apical", str(tmp_path / "a.h5"))
    assert done.returncode == 0, done.stderr
    assert list(read_subject(tmp_path / "a.h5").slices) == ["apical"]
    done = run_cli(*base, "--slice_positions", "apcal", str(tmp_path / "b.h5"))
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "'apcal' is not a slice position (basal, mid, apical)" in lines[0]
    assert not (tmp_path / "b.h5").exists()
    done = run_cli(*base, "--slice_positions", "mid")
    assert done.returncode == 2 and "output subject file (.h5) is missing" in done.stderr
