"""Mutation check: does the test suite notice small, plausible bugs?

    python -m scripts.mutation_check                 # every mutant, one at a time
    python -m scripts.mutation_check --only velocity --list

Each mutant is one textual change (a flipped sign, swapped labels, a changed constant) to the velocity
analysis (assessment/velocity.py), the phase GAN's losses (models/phase/model.py), the phantom's motion
(data/phantom/motion.py), the DICOM velocity scaling (data/scanner/dicom_vendor.py) or the kinematic prior
(models/kinematics/: subject fit, key-frame motion, periodic fit, painting, the model choice). The tree
is copied to a temporary folder first and every mutation is made and undone there, so the working tree
is never touched, even when a run crashes.

The tests of the selected groups first run on the unmutated copy: if they fail, or pytest cannot run
there (not installed in ``--python``, a collection error), the check refuses to score (exit 2), since
every mutant would then count as killed. For each mutant the tests of its group then run with ``-x``
and a timeout. Only a test failure (pytest exit 1) kills it; a run that times out is counted as killed
and marked so (a mutation that makes a loop endless is caught, but a slow machine could look the same);
a runner error (pytest exit 2-5: interrupted, internal error, usage error, no tests collected) is no
kill, is listed as an error and makes the exit status 1. The score is killed / (killed + survived).
docs/TESTING.md lists the survivors and why they are harmless.
"""

from __future__ import annotations

if not __package__:  # run as a file, python scripts/<tool>.py: put the repository root on the path
    import _repo_root  # noqa: F401

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from util.cli import RawDescriptionHelpFormatter, StrictParser

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    group: str
    path: str
    old: str
    new: str
    what: str


TESTS = {
    "velocity": ["tests/test_velocity.py", "tests/test_velocity_peaks.py", "tests/test_velocity_phantom.py"],
    "phase_losses": ["tests/test_phase_losses.py"],
    "motion": ["tests/test_phantom_motion.py", "tests/test_velocity_phantom.py", "tests/test_phantom.py"],
    "dicom": ["tests/test_dicom_vendor.py", "tests/test_dicom.py"],
    "regional": ["tests/test_regional.py"],
    "choice": ["tests/test_kinematics_choice.py"],
    "kinematics": [
        "tests/test_kinematics_fit.py",
        "tests/test_kinematics_motion.py",
        "tests/test_kinematics_periodic.py",
        "tests/test_kinematics_paint.py",
    ],
    # The value tests, each against a bug of the kind it was written for (not part of the score).
    "demo_losses": ["tests/test_losses.py"],
    "demo_augmentation": ["tests/test_augmentation.py"],
    "demo_identity": ["tests/test_metrics_identity.py"],
    "demo_ssim": ["tests/test_metrics.py"],
    "demo_noise": ["tests/test_background_noise.py"],
}
SCORED = ("velocity", "phase_losses", "motion", "dicom", "regional", "kinematics", "choice")

V, P, M, D = "assessment/velocity.py", "models/phase/model.py", "data/phantom/motion.py", "data/scanner/dicom_vendor.py"

MUTANTS = [
    # ------------------------------------------------------------------ velocity analysis
    Mutant("velocity", V, "return float(rows.mean()), float(cols.mean())",
           "return float(cols.mean()), float(rows.mean())", "centroid (row, col) swapped"),
    Mutant("velocity", V, "np.arctan2(-np.asarray(d_row, float)", "np.arctan2(np.asarray(d_row, float)",
           "angles clockwise (rows taken as pointing up)"),
    Mutant("velocity", V, "radial = -(vx * px.d_col + vy * px.d_row) / r",
           "radial = (vx * px.d_col + vy * px.d_row) / r", "radial sign flipped"),
    Mutant("velocity", V, "circumferential = (vx * px.d_row - vy * px.d_col) / r",
           "circumferential = (vy * px.d_row - vx * px.d_col) / r", "circumferential: vx and vy swapped"),
    Mutant("velocity", V, "circumferential = (vx * px.d_row - vy * px.d_col) / r",
           "circumferential = (vx * px.d_row + vy * px.d_col) / r", "circumferential: sign of one term"),
    Mutant("velocity", V, '"longitudinal": vz * z_towards_apex}', '"longitudinal": vz}',
           "z_towards_apex ignored"),
    Mutant("velocity", V, "vx = vx - _frame_mean(vx, px.t, n_frames)[px.t]", "vx = vx",
           "no bulk correction of vx"),
    Mutant("velocity", V, "vy = vy - _frame_mean(vy, px.t, n_frames)[px.t]",
           "vy = vy - _frame_mean(vx, px.t, n_frames)[px.t]", "bulk vy taken from vx"),
    Mutant("velocity", V, "rel = np.mod(_angle_deg(px.d_row, px.d_col) - (septum_deg + start), 360.0)",
           "rel = np.mod(_angle_deg(px.d_row, px.d_col) + (septum_deg + start), 360.0)",
           "segments measured from minus the septum"),
    Mutant("velocity", V, "width = 360.0 / n_sectors", "width = 360.0 / (n_sectors + 1)", "sector width"),
    Mutant("velocity", V, "return float(_angle_deg(rv_r.mean() - lv_r.mean(), rv_c.mean() - lv_c.mean()))",
           "return float(_angle_deg(lv_r.mean() - rv_r.mean(), lv_c.mean() - rv_c.mean()))",
           "septum on the side opposite the RV"),
    Mutant("velocity", V, "return 1 if net >= 0 else -1", "return -1 if net >= 0 else 1", "auto polarity flipped"),
    Mutant("velocity", V, 'direction = sign if key == "systolic" else -sign', "direction = sign",
           "diastolic peaks searched in the systolic direction"),
    Mutant("velocity", V, '"time_ms": best * rr / n', '"time_ms": (best + 1) * rr / n', "time to peak off by a frame"),
    Mutant("velocity", V, "    n = curve.size\n    phase = np.arange(n) / n",
           "    n = curve.size\n    phase = np.arange(1, n + 1) / n", "peak windows: frame t at (t+1)/T"),
    Mutant("velocity", V, "row0 = np.bincount(t, weights=row, minlength=n_frames) / count",
           "row0 = np.bincount(t, weights=col, minlength=n_frames) / count", "centroid row from columns"),
    Mutant("velocity", V, "return np.where(n > 0, s / np.maximum(n, 1), np.nan)",
           "return np.where(n > 0, s / np.maximum(n + 1, 1), np.nan)", "frame mean over n + 1"),
    Mutant("velocity", V, "return angle % 360.0", "return (-angle) % 360.0", "rv_insertion_deg negated"),
    # ------------------------------------------------------------------ phase GAN losses
    Mutant("phase_losses", P, "loss_real = self.gan_loss(pred_real, True)",
           "loss_real = self.gan_loss(pred_real, False)", "D: real labelled fake"),
    Mutant("phase_losses", P, "loss_fake = self.gan_loss(pred_fake, False)",
           "loss_fake = self.gan_loss(pred_fake, True)", "D: fake labelled real"),
    Mutant("phase_losses", P, "pred_real, pred_fake = self._discriminate",
           "pred_fake, pred_real = self._discriminate", "D: halves of the batch swapped"),
    Mutant("phase_losses", P, "velocity = torch.cat([self.real, self.fake.detach()], dim=0)",
           "velocity = torch.cat([self.fake.detach(), self.real], dim=0)", "D: real and fake swapped in the batch"),
    Mutant("phase_losses", P, '"total": 0.5 * (loss_real + loss_fake)', '"total": (loss_real + loss_fake)',
           "D total without the 1/2"),
    Mutant("phase_losses", P, "return net(torch.cat([magnitude, velocity.to(magnitude.dtype)], dim=1))",
           "return net(torch.cat([velocity.to(magnitude.dtype), magnitude], dim=1))", "D input channels swapped"),
    Mutant("phase_losses", P, "l1_myo = masked_l1(foreground, self.l1_target, self.myocardium)",
           "l1_myo = masked_l1(foreground, self.l1_target, self.tissue)", "myocardium term on the tissue mask"),
    Mutant("phase_losses", P, "l1_tissue = masked_l1(foreground, self.l1_target, self.tissue)",
           "l1_tissue = masked_l1(self.fake.float(), self.l1_target, self.tissue)",
           "tissue L1 on the composite instead of G's output"),
    Mutant("phase_losses", P, "self._discriminate(net_d, self.magnitude, self.fake), True,",
           "self._discriminate(net_d, self.magnitude, self.fake), False,", "G: adversarial target 0"),
    Mutant("phase_losses", P, "float(opt.lambda_tissue) * l1_tissue", "float(opt.lambda_myo) * l1_tissue",
           "tissue term weighted by lambda_myo"),
    Mutant("phase_losses", P, "total = float(opt.lambda_gan) * gan", "total = gan", "lambda_gan ignored"),
    # ------------------------------------------------------------------ phantom motion
    Mutant("motion", M, "ux = r_rate * cos_a - r * theta_rate * sin_a", "ux = r_rate * cos_a + r * theta_rate * sin_a",
           "rotation sign in x"),
    Mutant("motion", M, "uy = r_rate * sin_a + r * theta_rate * cos_a", "uy = r_rate * sin_a - r * theta_rate * cos_a",
           "rotation sign in y"),
    Mutant("motion", M, "vx = m[0, 0] * ux + m[0, 1] * uy + bvx.astype(dtype)",
           "vx = m[0, 0] * ux + m[0, 1] * uy - bvx.astype(dtype)", "bulk velocity sign in x"),
    Mutant("motion", M, "vel = -(a1 * 2 * np.pi", "vel = (a1 * 2 * np.pi", "bulk velocity not the derivative"),
    Mutant("motion", M, "self.contraction.velocity(phi) / self.rr_s", "self.contraction.velocity(phi) * self.rr_s",
           "contraction rate times RR"),
    Mutant("motion", M, "return self.params.endo_radius_mm - dr * c, -dr * dc",
           "return self.params.endo_radius_mm - dr * c, dr * dc", "endocardial rate sign"),
    Mutant("motion", M, "shifted = np.asarray(phi, dtype=np.float64) - self.offset_longitudinal - delay",
           "shifted = np.asarray(phi, dtype=np.float64) - self.offset_longitudinal + delay",
           "longitudinal delay sign"),
    Mutant("motion", M, "r_rate = np.where(in_cavity, r / endo, endo / np.maximum(r, dtype(1e-3))) * endo_rate",
           "r_rate = np.where(in_cavity, endo / np.maximum(r, dtype(1e-3)), r / endo) * endo_rate",
           "radial rate of cavity and wall swapped"),
    # ------------------------------------------------------------------ DICOM scaling
    Mutant("dicom", D, "return (-venc + 2.0 * venc * stored.astype(np.float64) / levels)",
           "return (venc - 2.0 * venc * stored.astype(np.float64) / levels)", "raw12 decoded with the wrong sign"),
    Mutant("dicom", D, "stored.astype(np.float64) / levels)", "stored.astype(np.float64) / (levels - 1))",
           "raw12 decoded over levels - 1"),
    Mutant("dicom", D, "aliased = np.mod(v + venc, 2.0 * venc) - venc", "aliased = v", "no aliasing on export"),
    Mutant("dicom", D, "raw = np.rint((aliased + venc)", "raw = np.floor((aliased + venc)", "floor instead of round"),
    Mutant("dicom", D, "ds_number(2.0 * venc / (levels - 1)), ds_number(-venc)",
           "ds_number(2.0 * venc / levels), ds_number(-venc)", "Philips slope over levels"),
    Mutant("dicom", D, '_VENDOR_UNITS = {"siemens": "raw12", "philips": "cm_s"}',
           '_VENDOR_UNITS = {"siemens": "cm_s", "philips": "raw12"}', "vendor conventions swapped"),
    Mutant("dicom", D, 'if vendor in text:', 'if vendor == text:', "manufacturer matched exactly"),
    # ------------------------------------------------------------------ demonstrations of the value tests
    Mutant("demo_losses", "models/losses.py", "weights.flatten(1).sum(1).clamp(min=eps)",
           "(weights.flatten(1).sum(1) + eps)", "masked_l1: eps added to the pixel count (the old code)"),
    Mutant("demo_losses", "models/losses.py", "dice = (2 * (p * t).sum(1) + smooth)", "dice = (2 * (p * t).sum(1))",
           "soft Dice without the smooth term in the numerator"),
    Mutant("demo_augmentation", "data/transforms.py", "vx, vy = vy, -vx", "vx, vy = -vy, vx",
           "quarter turn turns the vector the wrong way"),
    Mutant("demo_augmentation", "data/transforms.py", "        vx = -vx", "        vy = -vy",
           "mirror flips vy instead of vx"),
    Mutant("demo_augmentation", "data/samples/phase_dataset.py", "velocity = dihedral_velocity(velocity, k_rot, flip)",
           "velocity = dihedral(velocity, k_rot, flip)", "dataset turns the image but not the vector"),
    Mutant("demo_identity", "assessment/report/slice_metrics.py",
           "self.frames = np.flatnonzero(~np.asarray(is_key, dtype=bool))",
           "self.frames = np.flatnonzero(np.asarray(is_key, dtype=bool))", "report scores the key frames"),
    Mutant("demo_identity", "models/interp/evaluation.py",
           "frames = [target % rec.unit.shape[0] for target, _, _ in rec.targets]",
           "frames = [k0 % rec.unit.shape[0] for _, k0, _ in rec.targets]", "interp scores the bracketing key frame"),
    Mutant("demo_identity", "models/phase/evaluation.py",
           'out[f"vel_psnr_tissue_{x}"] = metrics.psnr_frames(p, r, VELOCITY_DATA_RANGE, tissue)',
           'out[f"vel_psnr_tissue_{x}"] = metrics.psnr_frames(p, r, VELOCITY_DATA_RANGE)',
           "phase tissue PSNR without the mask"),
    Mutant("demo_ssim", "assessment/metrics.py", "data_range=data_range, full=True)",
           "data_range=data_range, full=True, gaussian_weights=True)", "SSIM with a Gaussian window"),
    Mutant("demo_noise", "models/phase/background_noise.py", "pos = u * (k - 1)", "pos = u * k",
           "inverse CDF indexed over k levels"),
    Mutant("demo_noise", "models/phase/background_noise.py", "hi = q[channel, idx + 1]", "hi = q[channel, idx]",
           "inverse CDF not interpolated"),
]  # fmt: skip

R, B, TR = "assessment/regional.py", "assessment/bootstrap.py", "assessment/truth.py"
MUTANTS += [
    # ------------------------------------------------------------------ regional function
    Mutant("regional", R, "crossing = (k - 1) + before / (before - after)", "crossing = k + before / (before - after)",
           "end-systole a frame late"),
    Mutant("regional", R, "systolic_end = max(min(es + margin, _WINDOW_CAP), es)", "systolic_end = es",
           "segment systolic window without the delay margin"),
    Mutant("regional", V, "offset = float(np.clip(0.5 * (before - after) / curvature, -0.5, 0.5))",
           "offset = float(np.clip(0.5 * (after - before) / curvature, -0.5, 0.5))", "sub-frame offset sign"),
    Mutant("regional", R, "ranks = rankdata(s)", 'ranks = rankdata(s, method="ordinal")', "AUC: ties not mid-ranked"),
    Mutant("regional", R, "return float(np.std(times)) if times.size >= 2 else math.nan",
           "return float(np.std(times, ddof=1)) if times.size >= 2 else math.nan", "dyssynchrony index: sample SD"),
    Mutant("regional", R, "median = float(np.median(finite)) if finite else math.nan",
           "median = float(np.mean(finite)) if finite else math.nan", "segment ratio to the mean, not the median"),
    Mutant("regional", R, "return float(0.5 * (candidates[best] + candidates[best + 1]))",
           "return float(candidates[best])", "Youden threshold on the last abnormal score"),
    Mutant("regional", TR, "return {int(s): float(v) <= ABNORMAL_SCALE for s, v in motion_scale.items()}",
           "return {int(s): float(v) < ABNORMAL_SCALE for s, v in motion_scale.items()}", "cut-off 0.7 exclusive"),
    Mutant("regional", B, "tail = 100.0 * (1.0 - level) / 2.0", "tail = 100.0 * (1.0 - level)",
           "bootstrap tails not halved"),
    Mutant("regional", B, "d = (a - b)[np.isfinite(a) & np.isfinite(b)]",
           "d = (b - a)[np.isfinite(a) & np.isfinite(b)]", "paired difference reversed"),
]  # fmt: skip


KF, KM, KL = "models/kinematics/fit.py", "models/kinematics/keyframe_motion.py", "models/kinematics/landmarks.py"
KP, KD = "models/kinematics/periodic.py", "models/kinematics/paint.py"
KC, KR = "models/kinematics/choice.py", "models/kinematics/prior.py"
RING_SAMPLE_COLS = "    cols = geom.col + r * np.cos(theta)[:, None]\n    return ndimage.map_coordinates(np.asarray(im"
MUTANTS += [
    # ------------------------------------------------------------------ kinematic prior: subject fit
    Mutant("kinematics", KF, "    warp = cycle_warp(landmarks, templates.canonical)\n    out = [",
           "    warp = cycle_warp(templates.canonical, landmarks)\n    out = [",
           "timing fit: warp from canonical to subject"),
    Mutant("kinematics", KF, "wanted = np.r_[target / sigma, 1.0 / GAIN_SD]", "wanted = np.r_[target / sigma, 0.0]",
           "gain prior centred on 0"),
    Mutant("kinematics", KF, "_linear_fit(-radial, tr.mean_distance_mm,", "_linear_fit(radial, tr.mean_distance_mm,",
           "radial model: excursion outward"),
    Mutant("kinematics", KF, "return float(np.clip((n_keys - 3) / (FULL_SEGMENT_KEYS - 3), 1 / 6, 1.0))",
           "return 1.0", "segment priors not shrunk with few key frames"),
    Mutant("kinematics", KF, "    shifted = np.mod(fractions - delay, 1.0)\n    return templates.spline",
           "    shifted = np.mod(fractions + delay, 1.0)\n    return templates.spline", "segment delay sign"),
    Mutant("kinematics", KF, "per_second = 1000.0 / fit.rr_ms", "per_second = fit.rr_ms / 1000.0",
           "fitted curves: cycle fractions per second inverted"),
    Mutant("kinematics", KF, "distance_cm = (s.distance_level_mm - s.radial_gain * radial_tpl(warp(fractions))) / 10.0",
           "distance_cm = (s.distance_level_mm - s.radial_gain * radial_tpl(warp(fractions)))",
           "circumferential from a distance in mm"),
    Mutant("kinematics", KL, "END_SYSTOLE_LEVEL * s_val", "ONSET_LEVEL * s_val", "end-systole at the onset level"),
    # ------------------------------------------------------------------ kinematic prior: key-frame motion
    # the ring sampler's line (the wall profile has the same one, followed by a map of the mask)
    Mutant("kinematics", KM, "rows = geom.row - r * np.sin(theta)[:, None]\n" + RING_SAMPLE_COLS,
           "rows = geom.row + r * np.sin(theta)[:, None]\n" + RING_SAMPLE_COLS, "polar ring clockwise (rotation sign)"),
    Mutant("kinematics", KM, "segments[k, j] = distance[seg == s].mean()", "segments[k, j] = distance.mean()",
           "segment radius is the slice's"),
    Mutant("kinematics", KM, "zip(self.frames, self.dice, strict=True) if d < threshold]",
           "zip(self.frames, self.dice, strict=True) if d <= threshold]", "Dice at the threshold flagged"),
    # ------------------------------------------------------------------ kinematic prior: periodic fit
    Mutant("kinematics", KP, "np.concatenate([-w * np.sin(arg),", "np.concatenate([w * np.sin(arg),",
           "derivative of the cosines without the minus"),
    # ------------------------------------------------------------------ kinematic prior: painting
    Mutant("kinematics", KD, "out[t, 0, row, col] = (-radial * d_col + circ * d_row) / safe",
           "out[t, 0, row, col] = (radial * d_col + circ * d_row) / safe", "painted radial outward in x"),
    Mutant("kinematics", KD, "out[t, 1, row, col] = (-radial * d_row - circ * d_col) / safe",
           "out[t, 1, row, col] = (-radial * d_row + circ * d_col) / safe", "painted tangent sign in y"),
    Mutant("kinematics", KD, "out[t, 1, row, col] += bulk[t, 1]", "out[t, 1, row, col] += bulk[t, 0]",
           "bulk vy painted from vx"),
    # ------------------------------------------------------------------ kinematic prior: the model choice
    Mutant("choice", KC, "fits = fit_models(templates, [_drop(tr, held) for tr in data], rr_ms, models, n_keys)",
           "fits = fit_models(templates, list(data), rr_ms, models, n_keys)", "scored on the key frames it saw"),
    Mutant("choice", KC, "& (np.arange(measured.size) != held)", "& (np.arange(measured.size) >= 0)",
           "the held-out key frame in its own level"),
    Mutant("choice", KC, "next(m for m in MODELS if m in level and level[m] <= best * (1.0 + margin))",
           "next(m for m in reversed(MODELS) if m in level and level[m] <= best * (1.0 + margin))",
           "the richest model within the margin"),
    Mutant("choice", KC, "segment_p.get(tested, 1.0) < significance", "segment_p.get(tested, 1.0) > significance",
           "segments where they are not significant"),
    Mutant("choice", KC, "max(rss_without - rss_with, 0.0)", "max(rss_with - rss_without, 0.0)",
           "segment F test on the wrong difference"),
    Mutant("choice", KC, "if np.isfinite(free) and all(", "if np.isfinite(free) or all(",
           "model_free whenever it could be fitted"),
    Mutant("choice", KC, "return -periodic_resample(inward, fractions), periodic_resample(turned, fractions)",
           "return periodic_resample(inward, fractions), periodic_resample(turned, fractions)",
           "population floor's distance moving outward"),
    Mutant("choice", KC, '"radial": -rate(tr.mean_distance_mm) / 10.0,', '"radial": rate(tr.mean_distance_mm) / 10.0,',
           "model-free radial velocity outward"),
    Mutant("choice", KC, 'curves["segment_radial"] = np.tile(curves["radial"], (n_seg, 1))',
           'curves["segment_radial"] = np.tile(curves["longitudinal"], (n_seg, 1))',
           "population floor's segments move longitudinally"),
    Mutant("choice", KF, "return bool(np.all(gaps >= MIN_GAP_SHARE * reference))",
           "return bool(np.any(gaps >= MIN_GAP_SHARE * reference))", "collapsed landmarks let through"),
    Mutant("choice", KR, 'tracked = None if fitted.model == "population" else motion.tracked_displacement_mm',
           "tracked = motion.tracked_displacement_mm", "population floor with the tracked bulk motion"),
]  # fmt: skip


def copy_tree(dest: Path) -> None:
    ignore = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.pyc", "checkpoints", "results", ".ruff_cache")
    shutil.copytree(ROOT, dest, ignore=ignore, dirs_exist_ok=True)


#: what pytest's exit status means for a mutant (1 is the only one that shows a test noticed it)
PYTEST_ERRORS = {2: "interrupted or collection error", 3: "internal error", 4: "usage error", 5: "no tests collected"}


@dataclass(frozen=True)
class Verdict:
    """The outcome of one run: ``killed``, ``survived``, ``error`` (the runner failed) or ``invalid``."""

    status: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.status} ({self.detail})" if self.detail else self.status


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def run_tests(tree: Path, tests: list[str], python: list[str], timeout: float) -> Verdict:
    """Run ``tests`` in ``tree`` with ``python -m pytest -x``: killed on a test failure, survived on a pass."""
    cmd = [*python, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        result = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return Verdict("killed", f"timeout after {timeout:g} s")
    except OSError as exc:  # the interpreter itself cannot start
        return Verdict("error", f"{python[0]}: {exc.strerror}")
    if result.returncode == 0:
        return Verdict("survived")
    summary = last_line(result.stdout + "\n" + result.stderr)
    # pytest reports failed tests with 1, and so does Python when it cannot import pytest at all.
    if result.returncode == 1 and "No module named pytest" not in result.stderr:
        return Verdict("killed")
    what = PYTEST_ERRORS.get(result.returncode, "pytest did not run")
    return Verdict("error", f"exit {result.returncode}, {what}: {summary}")


def run_mutant(tree: Path, m: Mutant, python: list[str], timeout: float) -> tuple[Verdict, float]:
    path = tree / m.path
    original = path.read_text()
    count = original.count(m.old)
    if count != 1:
        return Verdict("invalid", f"snippet found {count} times"), 0.0
    path.write_text(original.replace(m.old, m.new))
    start = time.monotonic()
    try:
        verdict = run_tests(tree, TESTS[m.group], python, timeout)
    finally:
        path.write_text(original)
    return verdict, time.monotonic() - start


def check_baseline(tree: Path, mutants: list[Mutant], python: list[str], timeout: float) -> str | None:
    """None if the unmutated tree passes the tests of every selected group, else the one-line reason."""
    tests = list(dict.fromkeys(t for m in mutants for t in TESTS[m.group]))
    verdict = run_tests(tree, tests, python, timeout)
    if verdict.status == "survived":
        return None
    reason = verdict.detail or "a test fails"
    return f"the unmutated tree does not pass {' '.join(tests)} ({reason}); no score without a passing baseline"


def score(tree: Path, mutants: list[Mutant], python: list[str], timeout: float) -> dict[str, int]:
    """Run every mutant and print one line each; the counts by status (and of kills by timeout)."""
    counts = {"killed": 0, "survived": 0, "error": 0, "invalid": 0, "timeout": 0}
    for i, m in enumerate(mutants):
        verdict, seconds = run_mutant(tree, m, python, timeout)
        counts[verdict.status] += 1
        counts["timeout"] += verdict.detail.startswith("timeout")
        print(f"{i:3d} {str(verdict)[:60]:60s} {seconds:6.1f}s  {m.group:13s} {m.path}: {m.what}", flush=True)
    return counts


def main(argv: list[str] | None = None) -> int:
    p = StrictParser(
        prog="python -m scripts.mutation_check", description=__doc__, formatter_class=RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--only", choices=sorted(TESTS), action="append", help=f"groups to run (default: {', '.join(SCORED)})"
    )
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per mutant (and for the unmutated run)")
    p.add_argument("--python", default=sys.executable, help="command that runs the tests, e.g. 'python3 -X dev'")
    p.add_argument("--list", action="store_true", help="list the mutants and exit")
    p.add_argument("--min_score", type=float, default=0.9, help="exit 1 below this fraction killed")
    args = p.parse_args(argv)
    mutants = [m for m in MUTANTS if m.group in (args.only or SCORED)]
    if args.list:
        for i, m in enumerate(mutants):
            print(f"{i:3d} {m.group:13s} {m.path}: {m.what}")
        return 0
    if not mutants:  # pytest without test files would run the whole suite as the "baseline"
        print(f"error: scripts/mutation_check.py: no mutants in --only {' '.join(args.only)}", file=sys.stderr)
        return 2
    python = shlex.split(args.python)
    with tempfile.TemporaryDirectory(prefix="hdl-mutants-") as tmp:
        tree = Path(tmp)
        copy_tree(tree)
        refusal = check_baseline(tree, mutants, python, args.timeout)
        if refusal:
            print(f"error: scripts/mutation_check.py: {refusal}", file=sys.stderr)
            return 2
        counts = score(tree, mutants, python, args.timeout)
    killed, survived = counts["killed"], counts["survived"]
    total = killed + survived
    rate = killed / total if total else 0.0
    print(
        f"mutation score: {killed}/{total} killed ({100 * rate:.0f} %; {counts['timeout']} of them by timeout), "
        f"{survived} survived, {counts['error']} runner errors (not scored), {counts['invalid']} invalid"
    )
    return 0 if rate >= args.min_score and not counts["invalid"] and not counts["error"] else 1


if __name__ == "__main__":
    sys.exit(main())
