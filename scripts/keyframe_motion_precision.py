"""How precisely the key frames measure the motion of phantom slices (models.kinematics.keyframe_motion).

    python -m data.phantom --out /tmp/ph --subjects 6 --frames 50 --size 128 --seed 0
    python -m scripts.keyframe_motion_precision --dataroot /tmp/ph --factor 6 --subjects 6 --jitter 1

Every slice's key frames (0, k, 2k, ...) and their masks are measured as the chain would measure them;
the truth comes from the phantom's analytic motion model (``data.phantom``), read here only, to score:
rotation (degrees, from the first key frame: ``rotation_deg`` against the model's rigid rotation of the
slice, ``wall_rotation_deg`` and ``segment_rotation_deg`` against the mean turn of the wall's material
points about the moving centroid, globally and per AHA segment of the first key frame, which regional
contraction adds to), mean distance of the wall from its centroid (mm, its change from the first key
frame, and per AHA segment), centroid displacement (mm; ``tracked_centre_mm``: the image-tracked centre). Printed
per measure: Pearson r, slope of measured on true, RMS error, over all key frames after the first.
With ``--jitter J`` the key-frame masks are also shifted by random whole pixels (up to J along each
axis, independently per key frame), as an inconsistent segmentation would, and measured again.

    python -m scripts.keyframe_motion_precision --dataroot /tmp/ph --landmarks --split val

``--landmarks`` scores instead the landmark times (onset, systolic peak, end-systole, E' peak, A' peak)
fitted to the key-frame motion of each subject of ``--split`` by the kinematic prior
(``models.kinematics.fit``), against the landmarks of the subject's true radial curve (the same
definitions, ``models.kinematics.landmarks``), beside the population's expected landmarks for the
subject's RR interval. The templates come from the ``train`` split's measured velocities and masks.
"""

from __future__ import annotations

if not __package__:  # run as a file, python scripts/<tool>.py: put the repository root on the path
    import _repo_root  # noqa: F401

import argparse
import time
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from assessment.velocity import DEFAULT_SEPTUM_DEG, velocity_curves
from data.cycle import key_frame_grid
from data.mvm_io import SliceData, read_subject
from data.phantom.analytic import slice_params
from data.phantom.motion import SliceMotion
from data.phantom.segments import segment_of_angle
from data.selection import select_subjects
from models.kinematics.keyframe_motion import KeyFrameMotion, measure_keyframe_motion
from models.kinematics.landmarks import LANDMARKS, detect_landmarks
from models.kinematics.prior import KinematicPrior
from models.kinematics.templates import fit_templates
from util.cli import RawDescriptionHelpFormatter, ToolParser, run_tool, say
from util.errors import DataError

MEASURES = (
    "rotation_deg",
    "wall_rotation_deg",
    "radius_mm",
    "segment_rotation_deg",
    "segment_radius_mm",
    "centroid_mm",
    "tracked_centre_mm",
)


def wall_points(s: SliceData, fractions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions (x right, y down: image axes, mm) [F, N] of material points of the wall, equal-area."""
    p = slice_params(s)
    rho0 = np.sqrt(np.linspace(p.endo_radius_mm**2, p.epi_radius_mm**2, 18)[1:-1])  # equal-area radii
    alpha0 = np.arange(360) * (2 * np.pi / 360)
    rho0, alpha0 = (a.ravel() for a in np.meshgrid(rho0, alpha0, indexing="ij"))
    x, y, _ = SliceMotion(p).forward(rho0[None], alpha0[None], fractions[:, None])
    return x, -y


def true_motion(s: SliceData, keys: Sequence[int], segment_ids: np.ndarray) -> dict[str, np.ndarray]:
    """The measures of ``KeyFrameMotion`` from the analytic model, at the key frames."""
    p = slice_params(s)
    fractions = np.asarray(keys) / s.num_frames
    turn = np.rad2deg(SliceMotion(p).rotation(fractions)[0])
    x, y = wall_points(s, fractions)
    dx, dy = x - x.mean(axis=1, keepdims=True), y - y.mean(axis=1, keepdims=True)
    distance = np.hypot(dx, dy)
    angle = np.rad2deg(np.arctan2(-dy, dx))
    # Angle of each wall point about the moving centroid, from the first key frame: regional contraction
    # turns points about the centroid even where the heart does not rotate.
    turned = np.mod(angle - angle[:1] + 180.0, 360.0) - 180.0
    segment = segment_of_angle(angle, p.septum_deg, p.slice_position)
    first = segment[:1]
    per_segment = np.stack([(distance * (segment == k)).sum(1) / (segment == k).sum(1) for k in segment_ids], 1)
    centroid = np.stack([x.mean(axis=1), y.mean(axis=1)], axis=1)
    return {
        "rotation_deg": turn - turn[0],
        "wall_rotation_deg": turned.mean(axis=1),
        "radius_mm": distance.mean(axis=1),
        "segment_rotation_deg": np.stack([turned[:, first[0] == k].mean(axis=1) for k in segment_ids], 1),
        "segment_radius_mm": per_segment,
        "centroid_mm": centroid - centroid[0],
        "tracked_centre_mm": centroid - centroid[0],
    }


def jittered(masks: np.ndarray, jitter: int, rng: np.random.Generator) -> np.ndarray:
    """Each mask moved by a random whole-pixel offset of at most ``jitter`` along each axis."""
    offsets = rng.integers(-jitter, jitter + 1, size=(masks.shape[0], 2))
    return np.stack([ndimage.shift(m, o, order=0, mode="constant") for m, o in zip(masks, offsets, strict=True)])


def measured(m: KeyFrameMotion) -> dict[str, np.ndarray]:
    return {
        "rotation_deg": m.rotation_deg,
        "wall_rotation_deg": m.rotation_deg,
        "radius_mm": m.radius_mm,
        "segment_rotation_deg": m.segment_rotation_deg,
        "segment_radius_mm": m.segment_radius_mm,
        "centroid_mm": m.displacement_mm,
        "tracked_centre_mm": m.tracked_displacement_mm,
    }


def score_slice(s: SliceData, keys: list[int], masks: np.ndarray) -> tuple[dict, dict, KeyFrameMotion]:
    """Measured and true measures of one slice, as changes from the first key frame (key frames after it)."""
    septum = s.rv_insertion_deg if s.rv_insertion_deg is not None else DEFAULT_SEPTUM_DEG
    m = measure_keyframe_motion(
        s.magnitude[keys], masks, keys, s.num_frames, s.rr_interval_ms, s.pixel_spacing_mm,
        s.slice_position, septum, where=f"slice {s.name!r}",
    )  # fmt: skip
    got, truth = measured(m), true_motion(s, keys, m.segment_ids)
    for name in ("radius_mm", "segment_radius_mm"):  # excursion: change from the first key frame
        got[name], truth[name] = got[name] - got[name][:1], truth[name] - truth[name][:1]
    return {k: v[1:] for k, v in got.items()}, {k: v[1:] for k, v in truth.items()}, m


def agreement(got: np.ndarray, truth: np.ndarray) -> str:
    ok = np.isfinite(got) & np.isfinite(truth)
    g, t = got[ok], truth[ok]
    r = np.corrcoef(g, t)[0, 1]
    slope = np.polyfit(t, g, 1)[0]
    rms = np.sqrt(np.mean((g - t) ** 2))
    return f"r {r:6.3f}  slope {slope:6.3f}  RMS {rms:6.3f}  (n {ok.sum()}, {ok.size - ok.sum()} not measurable)"


def true_landmarks(subject) -> np.ndarray:
    """The landmarks (``models.kinematics.landmarks``) of the mean radial curve of ``velocity_true``."""
    curves = [
        velocity_curves(s.velocity_true, s.myocardium, s.slice_position, s.z_towards_apex, s.rv_insertion_deg).radial
        for s in subject.slices.values()
    ]
    found = detect_landmarks(np.mean(curves, axis=0))
    if found is None:
        raise DataError(f"{subject.subject_id}: the true radial curve shows no cycle landmarks")
    return found


def run_landmarks(args: argparse.Namespace) -> dict[str, np.ndarray]:
    # The landmark times fitted to the key frames (the prior's default keeps the population's times for the RR
    # interval, which is the baseline column here).
    templates = fit_templates(read_subject(p) for p in select_subjects(args.dataroot, "train"))
    prior = KinematicPrior(templates, fit_timing=True, choose=False)  # the timing fit itself, not a choice
    errors, baseline, seconds = [], [], []
    for path in select_subjects(args.dataroot, args.split, max_subjects=args.subjects):
        subject = read_subject(path)
        start = time.perf_counter()
        motions = {}
        for s in subject.slices.values():
            keys = key_frame_grid(s.num_frames, args.factor)
            motions[s.slice_position] = score_slice(s, keys, s.myocardium[keys])[2]
        fit = prior.fit(motions)
        seconds.append(time.perf_counter() - start)
        s = next(iter(subject.slices.values()))
        truth = true_landmarks(subject)
        errors.append((fit.landmarks - truth) * s.num_frames)
        baseline.append((prior.templates.expected_landmarks(s.rr_interval_ms)[0] - truth) * s.num_frames)
    errors, baseline = np.asarray(errors), np.asarray(baseline)
    n_keys = len(key_frame_grid(s.num_frames, args.factor))
    say(f"landmarks of {len(errors)} {args.split} subjects, {n_keys} key frames of {s.num_frames} (errors in frames)")
    say(f"   {'landmark':15s} {'fit |err|':>9s} {'fit RMS':>8s} {'bias':>6s} {'population |err|':>17s} {'RMS':>6s}")
    for i, name in enumerate(LANDMARKS):
        e, b = errors[:, i], baseline[:, i]
        say(f"   {name:15s} {np.abs(e).mean():9.2f} {np.sqrt((e**2).mean()):8.2f} {e.mean():6.2f} "
            f"{np.abs(b).mean():17.2f} {np.sqrt((b**2).mean()):6.2f}")  # fmt: skip
    say(f"   {'all':15s} {np.abs(errors).mean():9.2f} {np.sqrt((errors**2).mean()):8.2f} {'':6s} "
        f"{np.abs(baseline).mean():17.2f} {np.sqrt((baseline**2).mean()):6.2f}")  # fmt: skip
    say(f"time per subject (measure and fit): {np.mean(seconds):.2f} s")
    return {"fit": errors, "population": baseline}


def run(args: argparse.Namespace) -> dict[str, dict[str, str]]:
    if args.landmarks:
        run_landmarks(args)
        return {}
    paths = select_subjects(args.dataroot, args.split, max_subjects=args.subjects)
    conditions = ["exact masks"] + ([f"masks jittered {args.jitter} px"] if args.jitter > 0 else [])
    pooled: dict[str, dict[str, tuple[list, list]]] = {c: {k: ([], []) for k in MEASURES} for c in conditions}
    rng = np.random.default_rng(args.seed)
    seconds, bad = [], []
    for path in paths:
        subject = read_subject(path)
        start = time.perf_counter()
        for s in subject.slices.values():
            keys = key_frame_grid(s.num_frames, args.factor)
            for condition in conditions:
                masks = s.myocardium[keys]
                if condition != "exact masks":
                    masks = jittered(masks, args.jitter, rng)
                got, truth, m = score_slice(s, keys, masks)
                bad += [f"{condition}: {subject.subject_id} {s.name} key frame {f}" for f in m.badly_registered()]
                for k in MEASURES:
                    pooled[condition][k][0].append(got[k].ravel())
                    pooled[condition][k][1].append(truth[k].ravel())
        seconds.append((time.perf_counter() - start) / len(conditions))
    say(f"subjects: {len(paths)}; key frames every {args.factor} frames; changes from the first key frame")
    table = {}
    for condition in conditions:
        say(f"-- {condition}")
        table[condition] = {}
        for k in MEASURES:
            line = agreement(np.concatenate(pooled[condition][k][0]), np.concatenate(pooled[condition][k][1]))
            table[condition][k] = line
            say(f"   {k:22s} {line}")
    say(f"badly registered key frames (Dice < 0.8): {len(bad)}" + "".join(f"\n   {b}" for b in bad[:20]))
    say(f"time per subject (all slices, one condition): {np.mean(seconds):.2f} s")
    return table


def build_parser() -> ToolParser:
    p = ToolParser(prog="python -m scripts.keyframe_motion_precision", description=__doc__,
                   formatter_class=RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--dataroot", required=True, help="phantom cohort folder")
    p.add_argument("--factor", type=int, default=6, help="a key frame every FACTOR frames (default 6)")
    p.add_argument("--subjects", type=int, default=0, help="at most this many subjects (default all)")
    p.add_argument("--split", default="all", help="split of splits.json, or all (default)")
    p.add_argument("--jitter", type=int, default=1, help="random mask shift, pixels; 0: exact masks only (default: 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the jitter (default: 0)")
    p.add_argument("--landmarks", action="store_true", help="score landmark times fitted to the key frames")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool(run, build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
