"""Generating phantom subjects and cohorts, and writing them in the canonical file format.

Reproducibility: a subject is a pure function of ``(seed, config)``. Its ``SeedSequence`` is split into
one stream for the anatomy/motion parameters and one noise stream per slice, so the parameters do not
depend on the image size or frame count and a slice's noise does not depend on the other slices. In a
cohort, subject ``i`` gets the seed derived from ``SeedSequence(cohort_seed, spawn_key=(i,))``, the same
whatever the cohort size, and that seed is stored in the file (``attrs["phantom"]["seed"]``) so any
subject can be regenerated alone.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from data.mvm_io import SLICE_POSITIONS, SUBJECT_SUFFIX, SliceData, Subject, write_subject
from data.phantom.acquisition import acquire, eddy_offsets
from data.phantom.anatomy import render_slice
from data.phantom.config import PhantomConfig
from data.phantom.motion import segment_truth_values
from data.phantom.params import SliceParams
from data.phantom.sampling import describe_pathology, draw_subject
from data.splits import default_splits, write_splits
from util.errors import OptionError

#: Noise-free myocardial signal level in the stored magnitude (arbitrary units, scanner-like range).
SIGNAL_SCALE = 1000.0

#: Entropy word of the stream that picks a cohort's patients ("pati"), apart from the subjects' streams.
PATIENT_STREAM = 0x70617469


def subject_seed(cohort_seed: int, index: int) -> int:
    """Seed of subject ``index`` of a cohort: independent of how many subjects are generated."""
    state = np.random.SeedSequence(cohort_seed, spawn_key=(index,)).generate_state(2, dtype=np.uint32)
    return int(state[0]) << 32 | int(state[1])


def patient_count(fraction: float, subjects: int) -> int:
    """Number of patients in a cohort: ``fraction x subjects`` rounded half up (0.5 x 5 -> 3)."""
    return int(np.floor(fraction * subjects + 0.5 + 1e-9))


def patient_flags(seed: int, fraction: float, splits: dict[str, list[str]], names: list[str]) -> list[bool]:
    """Which subjects of a cohort are patients: exactly ``patient_count`` of them, spread over the
    splits in proportion to their sizes (largest remainders, ties to the larger split), and within
    each split chosen at random from the cohort seed (its own stream, so no subject's draws change)."""
    total = patient_count(fraction, len(names))
    groups = [(name, members) for name, members in splits.items() if members]
    quotas = [total * len(members) / len(names) for _, members in groups]
    counts = [int(np.floor(q)) for q in quotas]
    order = sorted(range(len(groups)), key=lambda i: (counts[i] - quotas[i], -len(groups[i][1]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), PATIENT_STREAM]))
    chosen: set[str] = set()
    for (_, members), count in zip(groups, counts, strict=True):
        chosen.update(rng.choice(sorted(members), size=count, replace=False).tolist())
    return [name in chosen for name in names]


def generate_subject(
    subject_id: str, seed: int, config: PhantomConfig | None = None, patient: bool | None = None
) -> Subject:
    """Draw and render one subject with slices "basal", "mid" and "apical".

    Each slice holds the noisy magnitude, the measured (noisy, wrapped) velocity, the noise-free
    ``velocity_true``, the masks ``myocardium``, ``lv_blood``, ``rv_blood`` and ``tissue``, and the
    attributes of the format; its ``attrs["phantom"]`` holds every drawn slice parameter (enough for
    ``analytic_global_curves``), ``attrs["snr"]`` its myocardial SNR and ``attrs["noise_sigma"]`` the
    complex noise std in magnitude units. The subject's ``attrs["phantom"]`` holds the seed, the config
    and the subject-level draws. ``patient`` says whether a subject of a config with a pathology is a
    patient (None: its own draw with probability ``pathology_fraction``).
    """
    config = config or PhantomConfig()
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise OptionError(f"phantom seed must be a non-negative integer, got {seed!r}")
    root = np.random.SeedSequence(int(seed))
    param_seq, *slice_seqs = root.spawn(1 + len(SLICE_POSITIONS))
    drawn, params = draw_subject(np.random.default_rng(param_seq), config, patient)
    venc = np.asarray(drawn["venc_cm_s"], dtype=np.float64)
    spacing = float(drawn["pixel_spacing_mm"])
    slices: dict[str, SliceData] = {}
    for position, seq in zip(SLICE_POSITIONS, slice_seqs, strict=True):
        rng = np.random.default_rng(seq)
        p = params[position]
        render = render_slice(p, config.frames, config.size, spacing)
        sigma = 1.0 / drawn["snr"]
        eddy = eddy_offsets(rng, config.eddy_cm_s, config.size)
        magnitude, velocity = acquire(rng, render.signal, render.velocity, venc, sigma, eddy)
        velocity_true = np.where(render.tissue[:, None], render.velocity, np.float32(0.0))
        slices[position] = SliceData(
            name=position,
            magnitude=magnitude * np.float32(SIGNAL_SCALE),
            myocardium=render.myocardium.astype(np.uint8),
            velocity=velocity,
            velocity_true=velocity_true.astype(np.float32),
            venc_cm_s=venc,
            pixel_spacing_mm=(spacing, spacing),
            rr_interval_ms=float(drawn["rr_interval_ms"]),
            slice_position=position,
            rv_insertion_deg=float(np.mod(p.septum_deg, 360.0)),
            z_towards_apex=1,
            lv_blood=render.lv_blood.astype(np.uint8),
            rv_blood=render.rv_blood.astype(np.uint8),
            tissue=render.tissue.astype(np.uint8),
            attrs={
                "phantom": p.to_dict(),
                "snr": float(drawn["snr"]),
                "noise_sigma": float(sigma * SIGNAL_SCALE),
                "eddy_cm_s": float(config.eddy_cm_s),
                **segment_truth(p),
            },
        )
    attrs = {
        "phantom": {"seed": int(seed), "config": config.to_dict(), **drawn},
        "patient": bool(drawn["pathology"]["patient"]),
        "pathology": describe_pathology(drawn["pathology"]),
    }
    return Subject(subject_id=subject_id, slices=slices, attrs=attrs)


def segment_truth(params: SliceParams) -> dict[str, np.ndarray]:
    """The regional truth a phantom slice records (docs/PHANTOM.md): its AHA segment numbers, each
    segment's radial and longitudinal motion scale (1 normal, 0 akinetic; relative to the subject's own
    normal motion, so a globally reduced heart has scale 1 everywhere) and its delay in ms (negative:
    early). An angular pathology (patch, smooth dyssynchrony) counts by its mean over each segment."""
    ids, scale, delay = segment_truth_values(params)
    return {
        "aha_segment_ids": np.asarray(ids, dtype=np.int64),
        "aha_motion_scale": np.asarray(scale, dtype=np.float64),
        "aha_delay_ms": np.asarray(delay, dtype=np.float64) * float(params.rr_ms),
    }


def _generate_and_write(job: tuple[str, int, PhantomConfig, str, str | None, bool | None]) -> str:
    subject_id, seed, config, path, compression, patient = job
    write_subject(path, generate_subject(subject_id, seed, config, patient), compression=compression)
    return path


def _check_cohort_options(
    n_subjects: int, seed: int, workers: int, compression: str | None, val_fraction: float, test_fraction: float
) -> None:
    """One-line ``OptionError`` for a bad argument of ``generate_cohort``."""
    if not isinstance(n_subjects, (int, np.integer)) or n_subjects < 1:
        raise OptionError(f"number of subjects must be a positive integer, got {n_subjects!r}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise OptionError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(workers, (int, np.integer)) or workers < 1:
        raise OptionError(f"workers must be a positive integer, got {workers!r}")
    for name, fraction in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= fraction < 1.0:
            raise OptionError(f"{name} must be within 0-1, got {fraction}")
    if val_fraction + test_fraction >= 1.0:
        raise OptionError(
            f"val_fraction + test_fraction must leave subjects to train, got {val_fraction + test_fraction}"
        )
    if compression not in (None, "gzip", "lzf"):
        raise OptionError(f"compression must be gzip, lzf or none, got {compression!r}")


def generate_cohort(
    out_dir: str | os.PathLike,
    n_subjects: int,
    seed: int,
    config: PhantomConfig | None = None,
    workers: int = 2,
    compression: str | None = "lzf",
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
) -> list[Path]:
    """Write ``subject_000.h5`` ... and ``splits.json`` (split by subject) into ``out_dir``.

    Args:
        out_dir: destination folder (created if needed; existing subject files are overwritten).
        n_subjects: number of subjects (>= 1).
        seed: cohort seed; subject ``i`` is reproducible on its own (see ``subject_seed``).
        config: phantom configuration (default ``PhantomConfig()``).
        workers: processes (1 generates in this process).
        compression: HDF5 compression of the datasets ("gzip", "lzf" or None).
        val_fraction, test_fraction: shares of the subjects in the validation and test splits (the last
            subjects in name order; ``data.mvm_io.default_splits``).

    With a pathology, exactly ``patient_count(config.pathology_fraction, n_subjects)`` subjects are
    patients, spread over the splits in proportion (``patient_flags``).

    Returns:
        The subject file paths, in subject order.
    """
    config = config or PhantomConfig()
    _check_cohort_options(n_subjects, seed, workers, compression, val_fraction, test_fraction)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OptionError(f"{out}: output exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    width = max(3, len(str(n_subjects - 1)))
    names = [f"subject_{i:0{width}d}" for i in range(n_subjects)]
    splits = default_splits(names, val_fraction, test_fraction)
    with_pathology = config.has_pathology or config.random_pathology
    flags = patient_flags(int(seed), config.pathology_fraction, splits, names) if with_pathology else None
    jobs = [
        (
            name,
            subject_seed(int(seed), i),
            config,
            str(out / f"{name}{SUBJECT_SUFFIX}"),
            compression,
            None if flags is None else flags[i],
        )
        for i, name in enumerate(names)
    ]
    workers = min(int(workers), n_subjects)
    if workers == 1:
        paths = [_generate_and_write(job) for job in jobs]
    else:
        # Spawned workers do not inherit the parent's threads or open files (fork is unsafe with them).
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            paths = list(pool.map(_generate_and_write, jobs))
    write_splits(out, splits)
    return [Path(p) for p in paths]
