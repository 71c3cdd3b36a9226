"""The chained-synthesis report: metrics tables, curve plots, bull's-eyes, cine GIFs, index.html, the FID
guard and the overview figure.

The subjects are small analytic ones (a contracting ring with known velocities) and the networks are
untrained and tiny: the report's job is to present whatever the chain produces, correctly.
"""

from __future__ import annotations

import csv
import math
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import model_options
from PIL import Image

from assessment.analysis import training_normals
from assessment.report import fid as fid_mod
from assessment.report.builder import INPUT_LABEL, ReportBuilder, ReportResult, held_cine
from assessment.report.bullseye import segment_geometry
from assessment.report.cohort import regional_summary_columns
from assessment.report.slice_metrics import metric_columns
from assessment.velocity import aha_segments
from data.keyframes import KeyFrames
from data.mvm_io import SliceData, Subject, write_subject
from data.overview import main as overview_main
from models.hdl.predictor import HDLPredictor
from models.interp.model import InterpModel
from models.phase.model import PhaseModel

T_FRAMES, SIZE, FACTOR = 12, 32, 3
VENC = np.array([20.0, 20.0, 25.0])


def ring_slice(name: str, seed: int) -> SliceData:
    """A myocardial ring whose inner radius shrinks in systole, with the matching radial velocity, a
    longitudinal sine, body/background magnitude and uniform background phase noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIZE, :SIZE].astype(np.float64)
    dy, dx = yy - (SIZE / 2 - 0.5), xx - (SIZE / 2 - 0.5)
    r = np.hypot(dx, dy)
    phase = np.arange(T_FRAMES) / T_FRAMES
    r_in = SIZE * (0.2 - 0.06 * np.sin(np.pi * phase) ** 2)
    drdt = np.gradient(r_in)
    body = r < SIZE * 0.45
    mag = np.empty((T_FRAMES, SIZE, SIZE), np.float32)
    myo = np.empty((T_FRAMES, SIZE, SIZE), np.uint8)
    true = np.zeros((T_FRAMES, 3, SIZE, SIZE), np.float32)
    for t in range(T_FRAMES):
        ring = (r >= r_in[t]) & (r < r_in[t] + SIZE * 0.12)
        myo[t] = ring
        mag[t] = 300 * body + 700 * ring + rng.normal(0, 15, (SIZE, SIZE))
        true[t, 0] = ring * 8 * drdt[t] * dx / np.maximum(r, 1e-6)
        true[t, 1] = ring * 8 * drdt[t] * dy / np.maximum(r, 1e-6)
        true[t, 2] = ring * 5 * np.sin(2 * np.pi * phase[t])
    measured = true + rng.normal(0, 0.3, true.shape).astype(np.float32)
    noise = rng.uniform(-1, 1, (T_FRAMES, 3, SIZE, SIZE)) * VENC[None, :, None, None]
    measured = np.where(body[None, None], measured, noise).astype(np.float32)
    return SliceData(
        name=name,
        magnitude=np.clip(mag, 0, None),
        myocardium=myo,
        velocity=measured,
        velocity_true=true,
        venc_cm_s=VENC,
        pixel_spacing_mm=(2.0, 2.0),
        rr_interval_ms=900.0,
        slice_position=name,
        rv_insertion_deg=180.0,
    )


def ring_subject(subject_id: str) -> Subject:
    return Subject(subject_id, {p: ring_slice(p, i) for i, p in enumerate(("basal", "mid", "apical"))})


def key_frame_only(subject: Subject) -> Subject:
    """The same subject as a down-sampled acquisition: key frames and masks only, no velocity."""
    keys = np.arange(0, T_FRAMES, FACTOR)
    slices = {
        n: replace(
            s,
            magnitude=s.magnitude[keys],
            myocardium=s.myocardium[keys],
            velocity=None,
            velocity_true=None,
            frame_index=keys,
            n_frames=T_FRAMES,
        )
        for n, s in subject.slices.items()
    }
    return Subject(f"{subject.subject_id}_keys", slices)


def tiny_predictors() -> dict[str, HDLPredictor]:
    torch.manual_seed(0)
    interp = InterpModel(model_options("interp", "--base_channels", "4", "--depth", "2", "--time_dim", "8"))
    phase = PhaseModel(model_options("phase", "--base_channels", "4", "--depth", "2", "--netG", "unet", is_train=False))
    interp.eval()
    phase.eval()
    return {
        "hdl": HDLPredictor(interp, phase, device="cpu", batch_size=5),
        "baseline": HDLPredictor(None, phase, device="cpu", interpolation="linear"),
    }


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> ReportResult:
    """A report over one fully acquired subject and one key-frame-only subject without velocity."""
    out = tmp_path_factory.mktemp("report")
    predictors = tiny_predictors()
    builder = ReportBuilder(
        out,
        {"hdl": "the chain", "baseline": "linear + same phase"},
        FACTOR,
        fid=True,
        info={"data": "rings"},
        gif=True,
    )
    for subject in (ring_subject("ring01"), key_frame_only(ring_subject("ring02"))):
        twins = {m: p.predict_subject(subject, FACTOR) for m, p in predictors.items()}
        builder.add_subject(subject, twins)
    return builder.finish()


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# ------------------------------------------------------------------------------------------------ tables


def test_metrics_csv_has_one_row_per_method_with_finite_numbers(report: ReportResult) -> None:
    rows = read_csv(report.metrics_csv)
    assert [r["method"] for r in rows] == ["hdl", "baseline"]
    for row in rows:
        assert set(metric_columns()) <= set(row)
        assert int(row["n_slices"]) == 6
        for col in metric_columns():
            if col == "correction_myo_cm_s":  # these twins refine no prior: nothing corrected, said as n/a
                assert math.isnan(float(row[col]))
                continue
            assert math.isfinite(float(row[col])), (row["method"], col, row[col])
        # FID is never a number unless it was really computed.
        assert row["fid"].startswith("unavailable: ") or math.isfinite(float(row["fid"]))
    hdl = rows[0]
    assert 0.0 <= float(hdl["myo_dice_nonkey"]) <= 1.0
    assert -1.0 <= float(hdl["curve_radial_r"]) <= 1.0
    assert float(hdl["vel_mae_myo_cm_s"]) >= 0.0


def test_metrics_are_means_over_slices_with_a_reference(report: ReportResult) -> None:
    per_slice = read_csv(report.out_dir / "metrics_per_slice.csv")
    assert len(per_slice) == 12  # 2 subjects x 3 slices x 2 methods
    without = [r for r in per_slice if r["has_reference"] == "0"]
    assert {r["subject"] for r in without} == {"ring02_keys"}
    assert all(r["vel_mae_myo_cm_s"] == "nan" for r in without)
    hdl = [float(r["mag_psnr_nonkey"]) for r in per_slice if r["method"] == "hdl" and r["has_reference"] == "1"]
    summary = read_csv(report.metrics_csv)[0]
    assert float(summary["mag_psnr_nonkey"]) == pytest.approx(np.mean(hdl), rel=1e-5)


def test_curve_and_peak_tables_cover_every_data_set(report: ReportResult) -> None:
    curves = read_csv(report.out_dir / "velocity_curves.csv")
    by_subject = {s: {r["data"] for r in curves if r["subject"] == s} for s in ("ring01", "ring02_keys")}
    assert by_subject["ring01"] == {"acquired", "hdl", "baseline"}
    assert by_subject["ring02_keys"] == {"hdl", "baseline"}
    acquired_mid = [r for r in curves if r["subject"] == "ring01" and r["slice"] == "mid" and r["data"] == "acquired"]
    assert len(acquired_mid) == T_FRAMES
    assert all(math.isfinite(float(r["longitudinal"])) for r in acquired_mid)
    peaks = read_csv(report.out_dir / "velocity_peaks.csv")
    assert {r["peak"] for r in peaks} == {"systolic", "e_prime", "a_prime"}
    # The ring's longitudinal velocity is 5 sin(2 pi t / T) cm/s: the acquired systolic peak is ~5 cm/s.
    sys_peak = [
        float(r["value_cm_s"])
        for r in peaks
        if (r["subject"], r["slice"], r["data"], r["component"], r["curve"], r["peak"])
        == ("ring01", "mid", "acquired", "longitudinal", "global", "systolic")
    ]
    assert sys_peak and sys_peak[0] == pytest.approx(5.0, abs=0.5)


# ----------------------------------------------------------------------------------------------- figures


def test_figures_decode_with_sensible_sizes(report: ReportResult) -> None:
    figures = report.out_dir / "figures"
    pngs = sorted(figures.glob("*.png"))
    # 2 curve plots (a subject each, a row per slice), 2 bull's-eyes, 2 regional bull's-eyes, 2 Bland-Altman
    # grids (one per quantity, every method on it)
    assert len(pngs) == 8
    assert len([p for p in pngs if p.name.startswith("agreement_")]) == 2
    for png in pngs:
        with Image.open(png) as im:
            im.verify()
        with Image.open(png) as im:
            assert im.format == "PNG" and im.width >= 400 and im.height >= 250
    gifs = sorted(figures.glob("*.gif"))
    assert [g.name for g in gifs] == ["ring01_mid_cine.gif", "ring02_keys_mid_cine.gif"]
    for gif in gifs:
        with Image.open(gif) as im:
            assert im.format == "GIF" and im.n_frames == T_FRAMES
            assert im.width >= 300 and im.height >= 200
            im.seek(T_FRAMES - 1)
            assert np.asarray(im.convert("RGB")).std() > 0


def page_links(page: Path) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', page.read_text())


def test_every_page_links_only_existing_local_files(report: ReportResult) -> None:
    pages = [report.index_html, *report.subject_pages.values()]
    assert [p.relative_to(report.out_dir).as_posix() for p in pages[1:]] == [
        "subjects/ring01.html",
        "subjects/ring02_keys.html",
    ]
    for page in pages:
        text = page.read_text()
        links = page_links(page)
        assert links, f"{page.name} shows nothing"
        for link in links:
            assert "://" not in link and not link.startswith("/"), link
            assert (page.parent / link).is_file(), (page.name, link)
        assert "http" not in text and "<script" not in text


def test_cohort_page_links_each_subject_and_shows_the_agreement(report: ReportResult) -> None:
    text = report.index_html.read_text()
    links = page_links(report.index_html)
    for needed in ("metrics.csv", "peak_agreement.csv", "subjects/ring01.html", "subjects/ring02_keys.html"):
        assert needed in links, needed
    for needed in ("agreement_peak_velocity_cm_s.png", "agreement_time_to_peak_ms.png"):
        assert f"figures/{needed}" in links, needed
    assert ">hdl<" in text and ">baseline<" in text and "Bland-Altman" in text
    # the subject figures live on the subject pages only
    assert not any(link.endswith("_bullseye.png") for link in links)


def test_subject_pages_hold_the_subject_figures(report: ReportResult) -> None:
    page = report.subject_pages["ring01"]
    links = page_links(page)
    assert "../index.html" in links
    for needed in ("ring01_bullseye.png", "ring01_regional.png", "ring01_mid_cine.gif", "ring01_curves.png"):
        assert f"../figures/{needed}" in links, needed
    assert "Metrics per slice" in page.read_text()
    assert "No acquired velocity for this subject" in report.subject_pages["ring02_keys"].read_text()


def test_pages_round_numbers_by_their_unit(report: ReportResult) -> None:
    """PSNR to 2 decimals, Dice to 3; the CSV keeps 6 significant digits."""
    summary = read_csv(report.metrics_csv)[0]
    psnr, dice = float(summary["mag_psnr_nonkey"]), float(summary["myo_dice_nonkey"])
    text = report.index_html.read_text()
    assert f">{psnr:.2f}<" in text and f">{dice:.3f}<" in text
    if summary["mag_psnr_nonkey"] != f"{psnr:.2f}":
        assert f">{summary['mag_psnr_nonkey']}<" not in text


def test_per_subject_and_agreement_csv(report: ReportResult) -> None:
    subjects = read_csv(report.out_dir / "metrics_per_subject.csv")
    assert [(r["subject"], r["method"]) for r in subjects] == [
        ("ring01", "hdl"),
        ("ring01", "baseline"),
        ("ring02_keys", "hdl"),
        ("ring02_keys", "baseline"),
    ]
    assert [r["has_reference"] for r in subjects] == ["1", "1", "0", "0"]
    agreement = read_csv(report.out_dir / "peak_agreement.csv")
    assert list(agreement[0]) == ["method", "component", "peak", "quantity", "n", "bias", "sd", "loa_low", "loa_high"]
    assert len(agreement) == 2 * 3 * 3 * 2  # method x component x peak x quantity
    assert {r["n"] for r in agreement} == {"3"}  # the 3 slices of ring01; ring02_keys has no acquired peaks


def test_bullseye_layout_follows_the_aha_convention() -> None:
    geometry = segment_geometry()
    assert sorted(geometry) == list(range(1, 17))

    def centre(seg: int) -> float:
        start, width, _, _ = geometry[seg]
        return (start + width / 2) % 360

    # Anterior at the top, septum on the left, inferior at the bottom; basal outside, apical inside.
    assert centre(1) == pytest.approx(90) and centre(7) == pytest.approx(90) and centre(13) == pytest.approx(90)
    assert centre(2) == pytest.approx(150) and centre(3) == pytest.approx(210) and centre(4) == pytest.approx(270)
    assert centre(14) == pytest.approx(180) and centre(16) == pytest.approx(0)
    assert geometry[1][3] > geometry[7][3] > geometry[13][3]


def test_held_cine_repeats_each_key_frame_until_the_next() -> None:
    s = ring_slice("mid", 0)
    stored = replace(s, magnitude=s.magnitude[[2, 7]], myocardium=s.myocardium[[2, 7]])
    keys = KeyFrames(frames=(2, 7), stored=(0, 1), n_frames=10)
    held = held_cine(stored, keys)
    assert held.shape == (10, SIZE, SIZE)
    # frames 2..6 show key 2, 7..9 key 7, and 0..1 (before the first key frame) the last key of the cycle
    for t, k in ((0, 1), (1, 1), (2, 0), (6, 0), (7, 1), (9, 1)):
        np.testing.assert_array_equal(held[t], stored.magnitude[k])
    assert INPUT_LABEL.startswith("input")


# --------------------------------------------------------------------------------------------------- FID


def test_fid_is_a_reason_unless_requested_and_available() -> None:
    assert fid_mod.unavailable_reason(False) == fid_mod.NOT_REQUESTED
    reason = fid_mod.unavailable_reason(True)
    if reason is not None:
        assert reason.startswith("unavailable: ") and "\n" not in reason


def test_the_report_path_never_imports_torchvision_without_fid() -> None:
    code = (
        "import sys\n"
        "import models.hdl.evaluation, models.hdl.predictor, assessment.report.builder\n"
        "from assessment.report import fid\n"
        "fid.unavailable_reason(False)\n"
        "assert 'torchvision' not in sys.modules, 'torchvision imported'\n"
        "assert 'pytorch_fid' not in sys.modules, 'pytorch_fid imported'\n"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


# ---------------------------------------------------------------------------------------------- overview


def test_overview_cli_renders_a_subject(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = write_subject(tmp_path / "ring.h5", ring_subject("ring"))
    out = tmp_path / "overview.png"
    assert overview_main([str(path), str(out), "--frames", "0", "4", "8"]) == 0
    assert capsys.readouterr().out.strip().endswith("overview.png")
    with Image.open(out) as im:
        assert im.format == "PNG" and im.height > im.width > 300  # 5 rows (magnitude, vx, vy, vz, mask) x 3 frames
    assert overview_main([str(path), str(out), "--slice", "septal"]) == 2
    assert "no slice 'septal'" in capsys.readouterr().err


def test_overview_of_a_file_without_velocity(tmp_path: Path) -> None:
    from data.overview import plot_subject_overview

    path = write_subject(tmp_path / "keys.h5", key_frame_only(ring_subject("ring")))
    out = plot_subject_overview(path, tmp_path / "keys.png")
    with Image.open(out) as im:
        assert im.width > 300


# ----------------------------------------------------------------------------------------- regional function

LAD = (1, 2, 7, 8, 13, 14)


def territory_subject(subject_id: str, lad_scale: float) -> tuple[Subject, Subject]:
    """A ring subject whose LAD territory moves ``lad_scale`` times as much (truth and measurement), with
    the phantom's ``aha_*`` attributes; and the same subject moving normally everywhere."""
    scaled, normal = {}, {}
    for i, position in enumerate(("basal", "mid", "apical")):
        s = ring_slice(position, i)
        segments = aha_segments(s.myocardium, position, 180.0)
        factor = np.where(np.isin(segments, LAD), lad_scale, 1.0)[:, None].astype(np.float32)
        ids = np.unique(segments[segments > 0])
        attrs = {
            "aha_segment_ids": ids,
            "aha_motion_scale": np.where(np.isin(ids, LAD), lad_scale, 1.0),
            "aha_delay_ms": np.zeros(ids.size),
        }
        true = s.velocity_true * factor
        scaled[position] = replace(s, velocity=s.velocity - s.velocity_true + true, velocity_true=true, attrs=attrs)
        normal[position] = s
    return Subject(subject_id, scaled), Subject(subject_id, normal)


@pytest.fixture(scope="module")
def regional_report(tmp_path_factory: pytest.TempPathFactory) -> ReportResult:
    """One healthy subject and two with an akinetic LAD territory; ``hdl`` reproduces the truth exactly,
    ``population`` moves every segment normally. Normals and threshold from a healthy training subject."""
    out = tmp_path_factory.mktemp("regional")
    normals = training_normals([territory_subject("train", 1.0)[0]])
    builder = ReportBuilder(out, {"hdl": "the truth", "population": "normal motion"}, FACTOR, normals=normals)
    # what the phantom's files say of the subject (patient2 says nothing, as scanner data)
    said = {"healthy": {"patient": False, "pathology": "healthy"},
            "patient1": {"patient": True, "pathology": "LAD territory, motion scale 0.20"}}  # fmt: skip
    for sid, scale in (("healthy", 1.0), ("patient1", 0.2), ("patient2", 0.2)):
        subject, normal = territory_subject(sid, scale)
        subject = replace(subject, attrs=said.get(sid, {}))
        hdl = {n: replace(s, velocity=s.velocity_true) for n, s in subject.slices.items()}
        population = {n: replace(s, velocity=s.velocity_true) for n, s in normal.slices.items()}
        builder.add_subject(subject, {"hdl": Subject(sid, hdl), "population": Subject(sid, population)})
    return builder.finish()


def test_metrics_csv_has_regional_columns_and_the_two_groups(regional_report: ReportResult) -> None:
    rows = {r["method"]: r for r in read_csv(regional_report.metrics_csv)}
    assert list(rows) == ["hdl", "population", "hdl (healthy)", "population (healthy)", "hdl (patients)",
                          "population (patients)"]  # fmt: skip
    assert set(regional_summary_columns()) <= set(rows["hdl"])
    assert [rows[m]["cohort"] for m in ("hdl", "hdl (healthy)", "hdl (patients)")] == ["all", "healthy", "patients"]
    assert rows["hdl"]["n_subjects"] == "3" and rows["hdl (patients)"]["n_subjects"] == "2"
    hdl, population = rows["hdl"], rows["population"]
    # The twin equal to the truth agrees with it exactly, segment by segment and in timing.
    assert float(hdl["seg_peak_radial_systolic_r"]) == pytest.approx(1.0)
    assert float(hdl["seg_peak_radial_systolic_mae_cm_s"]) == pytest.approx(0.0, abs=1e-6)
    assert float(hdl["dyssync_err_ms"]) == pytest.approx(0.0, abs=1e-6)
    # It finds the akinetic territory; the population, which moves every segment alike, cannot.
    assert float(hdl["detect_auc"]) == 1.0 and float(hdl["detect_sensitivity"]) == 1.0
    assert float(population["detect_auc"]) < 0.8 and float(population["detect_sensitivity"]) < 0.5
    assert float(hdl["hypo_ratio"]) < 0.5 < float(population["hypo_ratio"])
    assert math.isnan(float(rows["hdl (healthy)"]["detect_auc"]))  # no abnormal segment among the healthy
    assert float(hdl["detect_healthy_fpr"]) == 0.0
    # Bootstrap intervals around the estimates, and the paired difference from the reference method.
    assert hdl["ci_reference"] == "population" and population["ci_reference"] == "population"
    mae = float(population["seg_peak_radial_systolic_mae_cm_s"])
    assert float(population["seg_peak_radial_systolic_mae_cm_s_ci_low"]) <= mae
    assert mae <= float(population["seg_peak_radial_systolic_mae_cm_s_ci_high"])
    assert float(hdl["seg_peak_radial_systolic_mae_cm_s_diff_ref"]) == pytest.approx(-mae, rel=1e-4)
    assert math.isnan(float(population["seg_peak_radial_systolic_mae_cm_s_diff_ref"]))
    subjects = read_csv(regional_report.out_dir / "metrics_per_subject.csv")
    assert [r["cohort"] for r in subjects if r["method"] == "hdl"] == ["healthy", "patients", "patients"]
    assert all("seg_peak_radial_systolic_r" in r and "dyssync_index_ms" in r for r in subjects)


def test_pages_show_regional_function(regional_report: ReportResult) -> None:
    text = regional_report.index_html.read_text()
    section = text[text.index("<h2>Regional function</h2>") : text.index("<h2>Subjects</h2>")]
    assert ">hdl<" in section and ">population<" in section and "fixed rule" in section
    page = regional_report.subject_pages["patient1"]
    assert "../figures/patient1_regional.png" in page_links(page)
    regional = page.read_text().split("<h2>Regional function</h2>")[1].split("<h2>")[0]
    assert ">hdl<" in regional and ">population<" in regional
    with Image.open(regional_report.out_dir / "figures" / "patient1_regional.png") as im:
        assert im.width >= 600  # truth, acquired and two methods side by side


def test_no_cine_gif_unless_asked(regional_report: ReportResult) -> None:
    assert not list((regional_report.out_dir / "figures").glob("*.gif"))
    assert "cine" not in (regional_report.out_dir / "subjects" / "patient1.html").read_text()


def test_pages_say_who_is_a_patient_and_which_segments_each_method_calls_abnormal(
    regional_report: ReportResult,
) -> None:
    """The cohort page's per-subject regional summary: patient and pathology from the file (blank without),
    the segments each data set calls abnormal beside the truth's; the subject page says who the subject is."""
    index = regional_report.index_html.read_text()
    assert "Abnormal segments per subject" in index
    lad = " ".join(str(s) for s in LAD)
    table = index[index.index("Abnormal segments per subject") :]
    table = table[: table.index("</table>")]
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in table.split("<tr>")[2:]]
    cells = {(re.sub("<[^>]+>", "", r[0]), r[3]): r for r in rows}
    # subject, patient, pathology, data set, truth, called, missed, false alarms
    assert cells[("patient1", "hdl")][1:] == ["patient", "LAD territory, motion scale 0.20", "hdl", lad, lad,
                                              "none", "none"]  # fmt: skip
    assert cells[("patient2", "hdl")][1:3] == ["", ""]  # the file says nothing: left blank
    assert cells[("healthy", "hdl")][1:5] == ["healthy", "healthy", "hdl", "none"]
    assert cells[("patient1", "population")][5] == "none" and cells[("patient1", "population")][6] == lad
    page = (regional_report.out_dir / "subjects" / "patient1.html").read_text()
    assert "<b>patient: LAD territory, motion scale 0.20</b>" in page and "Abnormal segments" in page
    assert 'class="who"' not in (regional_report.out_dir / "subjects" / "patient2.html").read_text()


def test_rows_scored_against_one_shared_reference_get_the_numbers_of_rows_scored_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The reference side of the scores is computed once per slice; a row sharing another's cine (the
    yardsticks) reuses its magnitude metrics, one with another's velocity its velocity metrics. Every number
    equals the row scored on its own."""
    from assessment import ssim_stack
    from assessment.report.slice_metrics import SharedReference, slice_metrics
    from data.keyframes import key_frames_of

    real = ring_subject("ring01").slices["mid"]
    is_key = key_frames_of(real, FACTOR).is_key()
    twin = replace(real, velocity=real.velocity * 0.8 + 1.0)
    same_cine = replace(twin, velocity=np.zeros_like(real.velocity))
    same_velocity = replace(same_cine, velocity=twin.velocity.copy())  # another array, the same values
    # a yardstick: zero outside a box about the myocardium, its SSIM mapped in the box (equal to rounding)
    inside = np.zeros(real.velocity.shape[-2:], dtype=bool)
    inside[12:18, 10:17] = True
    boxes = []
    changed = ssim_stack._changed
    monkeypatch.setattr(ssim_stack, "_changed", lambda *a: boxes.append(a[2]) or changed(*a))
    yardstick = replace(same_cine, velocity=np.where(inside, twin.velocity + 0.5, 0.0).astype(np.float32))
    shared = SharedReference(real, is_key, 1.0)
    for synth in (twin, same_cine, same_velocity, yardstick):
        alone = slice_metrics(real, synth, is_key, 1.0, None, None)
        together = slice_metrics(real, synth, is_key, 1.0, None, None, shared)
        assert alone.keys() == together.keys()
        for k in alone:
            if synth is yardstick and k.startswith("vel_ssim"):
                assert together[k] == pytest.approx(alone[k], abs=1e-12)
            else:
                assert alone[k] == together[k] or (math.isnan(alone[k]) and math.isnan(together[k])), k
    assert len(shared._magnitude) == 1  # the later rows' cine is the first's: scored once
    assert len(shared._velocity_rows) == 3  # the third row's velocity is the first's: scored once
    assert (slice(9, 21), slice(7, 20)) in boxes  # the yardstick's SSIM: its box widened by the window


def test_myocardial_error_of_a_row_is_the_masked_mae_of_its_velocity() -> None:
    """The velocity error reads each row's velocity at the labelled myocardium's pixels only (gathered once
    per slice): the value is ``assessment.metrics.mae`` over that mask, to the last bit."""
    from assessment.metrics import mae
    from assessment.report.slice_metrics import labelled, velocity_metrics

    real = ring_subject("ring01").slices["mid"]
    real = replace(real, velocity_true=real.velocity * 0.9)
    twin = replace(real, velocity=real.velocity * 0.8 + 1.0)
    myo = ((real.myocardium != 0) & labelled(real)[:, None, None])[:, None]
    row = velocity_metrics(real, twin, 1.0)
    assert row["vel_mae_myo_cm_s"] == mae(twin.velocity, real.velocity, myo)
    assert row["vel_mae_myo_true_cm_s"] == mae(twin.velocity, real.velocity_true, myo)
    assert math.isnan(velocity_metrics(replace(real, velocity_true=None), twin, 1.0)["vel_mae_myo_true_cm_s"])
