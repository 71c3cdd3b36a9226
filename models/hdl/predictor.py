"""The chained HDL model for inference: down-sampled magnitude cine in, full 3Dir MVM digital twin out.

    from data.mvm_io import read_subject
    from models.hdl.predictor import HDLPredictor

    hdl = HDLPredictor.from_runs("checkpoints/phantom_interp", "checkpoints/phantom_phase")
    twin = hdl.predict_subject(read_subject("subject.h5", require_velocity=False), factor=6)

Stage 1 (frame interpolation) turns the key magnitude frames and their myocardium masks into every
frame of the cycle; stage 2 (phase synthesis) turns each frame and the frames around it (the phase run's
``--temporal_window``: 3 by default, 5 for the shipped twin; cyclic at the ends) into the three velocity
maps, the background filled from the run's noise model. The baseline chain of the reports is
the same class with ``interpolation="linear"`` (no stage-1 network: a linear blend of the key frames and
the nearer key frame's mask) and, usually, the run of an L1-only phase generator (``--l1_only``)::

    baseline = HDLPredictor.from_runs(None, "checkpoints/phantom_phase_l1", interpolation="linear")

A phase run trained with ``--prior kinematic`` refines the subject's own kinematic prior: the predictor
fits it once per subject from the key frames and their masks (its slices share the landmark times;
``models.kinematics.subject``), paints each slice's curves on the masks stage 1 rebuilt, and gives each
frame's prior to stage 2; a subject whose key frames cannot be read gets the population prior, said in
one line (``models.phase.priors``).

Units: the output magnitude is in the input's units (key frames copied unchanged; synthesised frames
multiplied back by the magnitude scale of the key frames, the only scale known at inference); velocities
are in cm/s (network output times the slice's VENC per direction).
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from assessment.metrics import mae
from data.keyframes import KeyFrames, key_frames_of
from data.mvm_io import SliceData, Subject
from models.interp.inference import CineReconstruction, interpolate_cine, linear_cine
from models.kinematics.subject import SliceCurves, keyframe_septum
from models.loading import PRETRAINED_DIR, load_trained_model
from models.phase.correction_gate import set_correction_scale
from models.phase.priors import kinematic_curves
from models.phase.synthesis import synthesise_cine
from models.phase.tissue_noise import keyframe_noise_sigma
from util.conventions import CORRECTION_ATTR, venc_scale
from util.device import autocast, resolve_device, resolve_precision
from util.errors import OptionError
from util.intensity import to_network_range

INTERPOLATIONS = ("network", "linear")
#: pixels around the rebuilt myocardium rendered as wall, not background (``HDLPredictor``'s ``wall_band``)
WALL_BAND = 1


def correction_size(velocity: np.ndarray, prior: np.ndarray, myocardium: np.ndarray, s: SliceData) -> float:
    """How far stage 2 moved the twin from the prior it refines: mean |velocity - prior| (cm/s) over the
    twin's myocardium, all frames and directions. ``velocity`` [T, 3, H, W] in cm/s, ``prior`` in VENC
    units (as the generator sees it), ``myocardium`` [T, H, W]. Needs no truth: on a scan it is the one sign
    that the twin left its prior; NaN on an empty myocardium."""
    return mae(velocity, prior * venc_scale(s.venc_cm_s, dtype=np.float32), (np.asarray(myocardium) != 0)[:, None])


class HDLPredictor:
    """Runs the two HDL stages on whole slices, batching over frames, on CPU or GPU.

    Args:
        interp_model: the stage-1 model (``InterpModel``), or None with ``interpolation="linear"``.
        phase_model: the stage-2 model (``PhaseModel``; anything with ``synthesise``).
        device: where inputs are sent; default: the phase model's device (``from_runs`` loads both stages
            on the device it is given, default CUDA if available).
        precision: autocast dtype ``fp32``, ``bf16`` or ``fp16``; default bf16 on GPU, fp32 on CPU.
        batch_size: frames per forward pass.
        interpolation: ``network`` (stage 1) or ``linear`` (the baseline).
        seed: seeds the background noise. Each slice gets its own generator, seeded from (seed, slice
            name), so the same seed gives the same twin whatever else is synthesised in the same run.
        name: label stored in the synthesised files (``synthesised_by``) and used in reports.
        acquisition_noise: give the twin's tissue the scanner's phase noise (runs trained with
            ``--tissue_noise physics``), so that it looks like an acquisition. Off by default: the twin's
            velocity is then the model's estimate, which is what its velocity errors and curves measure.
        correction_scale: the share in [0, 1] of stage 2's correction of its prior to keep (0: the prior,
            1: the network's whole output); default the scale its weights chose on their validation split
            (models/phase/correction_gate.py), or 1 for weights that hold none.
        wall_band: pixels around the rebuilt myocardium that stage 2 renders as wall (its velocity), never as
            background noise, however dim the rebuilt magnitude is there (``WALL_BAND``; 0: the magnitude's
            tissue and the mask alone decide). Stage 1's mask edge is uncertain by about a pixel.
    """

    def __init__(
        self,
        interp_model: Any | None,
        phase_model: Any,
        device: torch.device | str | None = None,
        precision: str | None = None,
        batch_size: int = 16,
        interpolation: str = "network",
        seed: int = 0,
        name: str | None = None,
        acquisition_noise: bool = False,
        correction_scale: float | None = None,
        wall_band: int = WALL_BAND,
    ) -> None:
        if interpolation not in INTERPOLATIONS:
            raise OptionError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
        if interpolation == "network" and interp_model is None:
            raise OptionError("interpolation='network' needs a stage-1 model (or use interpolation='linear')")
        if batch_size < 1:
            raise OptionError(f"batch_size must be >= 1, got {batch_size}")
        if wall_band < 0:
            raise OptionError(f"wall_band must be >= 0 pixels, got {wall_band}")
        # Models carry their device; the predictor follows them unless told otherwise.
        self.device = resolve_device(device if device is not None else getattr(phase_model, "device", None))
        self.precision = resolve_precision(precision, self.device)
        self.interp_model = interp_model if interpolation == "network" else None
        self.phase_model = phase_model
        for model in (self.interp_model, self.phase_model):
            self._align_precision(model)
        self.batch_size = int(batch_size)
        self.interpolation = interpolation
        self.seed = int(seed)
        self.name = name or ("hdl" if interpolation == "network" else "baseline")
        self.acquisition_noise = bool(acquisition_noise)
        self.wall_band = int(wall_band)
        if correction_scale is not None:
            set_correction_scale(phase_model, correction_scale)

    def _align_precision(self, model: Any) -> None:
        """The stages autocast on their own from their ``precision``; make it this predictor's."""
        if model is not None and hasattr(model, "precision"):
            model.precision = self.precision

    @classmethod
    def from_runs(
        cls,
        interp_run_dir: str | os.PathLike | None,
        phase_run_dir: str | os.PathLike,
        which: str | int = "best",
        device: torch.device | str | None = None,
        precision: str | None = None,
        interpolation: str = "network",
        **options: Any,
    ) -> HDLPredictor:
        """Load both stages from their run folders (``<checkpoints_dir>/<name>``) with their saved options.

        ``options`` are the constructor's (``batch_size``, ``seed``, ``name``, ``acquisition_noise``,
        ``correction_scale``, ``wall_band``).

        ``interp_run_dir`` may be None with ``interpolation="linear"``. ``which`` picks the checkpoint of
        both runs: ``best``, ``latest``, an epoch number, or ``weights`` (the weights-only export).
        """
        dev = resolve_device(device)
        prec = resolve_precision(precision, dev)
        overrides = {"precision": prec, "channels_last": dev.type == "cuda"}
        interp = None
        if interpolation == "network":
            if interp_run_dir is None:
                raise OptionError("interpolation='network' needs the stage-1 run folder")
            interp = load_trained_model(interp_run_dir, which, dev, overrides)
        phase = load_trained_model(phase_run_dir, which, dev, overrides)
        return cls(interp, phase, dev, prec, interpolation=interpolation, **options)

    @classmethod
    def from_pretrained(cls, device: torch.device | str | None = None, **kwargs: Any) -> HDLPredictor:
        """The shipped twin (``pretrained/``, trained on the phantom; see its model card), no training needed.
        ``kwargs`` are those of ``from_runs``."""
        return cls.from_runs(PRETRAINED_DIR / "interp", PRETRAINED_DIR / "phase", "weights", device, **kwargs)

    # ------------------------------------------------------------------------------------- stages

    def generator(self, slice_name: str) -> torch.Generator:
        """The background-noise generator of a slice: a function of (seed, slice name) only."""
        gen = torch.Generator(device=self.device)
        gen.manual_seed((self.seed * 1_000_003 + zlib.crc32(slice_name.encode())) % 2**63)
        return gen

    @torch.no_grad()
    def rebuild_cine(self, s: SliceData, keys: KeyFrames) -> CineReconstruction:
        """Stage 1 on one slice: every frame of the cycle from the key frames (or the linear baseline)."""
        key_mag = np.asarray(s.magnitude[list(keys.stored)], dtype=np.float32)
        key_mask = np.asarray(s.myocardium[list(keys.stored)])
        if self.interp_model is None:
            return linear_cine(key_mag, key_mask, keys.frames, keys.n_frames)
        with autocast(self.precision, self.device):
            return interpolate_cine(
                self.interp_model, key_mag, key_mask, keys.frames, keys.n_frames, batch_size=self.batch_size
            )

    @property
    def refines_kinematic_prior(self) -> bool:
        """Whether stage 2 refines the subject's kinematic prior (a ``--prior kinematic`` run)."""
        return getattr(self.phase_model, "prior_kind", "none") == "kinematic"

    def prior_curves(self, subject: Subject, keys: dict[str, KeyFrames]) -> dict[str, SliceCurves]:
        """The kinematic prior of every slice of ``subject`` from its key frames ``keys`` (one fit for the
        subject), with the phase run's templates; the population prior where it cannot be read."""
        phase = self.phase_model
        return kinematic_curves(phase.kinematics, phase.population, subject, keys)

    @torch.no_grad()
    def synthesise_velocity(
        self,
        unit: np.ndarray,
        myocardium: np.ndarray,
        s: SliceData,
        prior: np.ndarray | None = None,
        key_frames: Sequence[int] = (),
    ) -> np.ndarray:
        """Stage 2: velocity / VENC [T, 3, H, W] of slice ``s``'s whole cine, given on the [0, 1] scale
        with its masks [T, H, W] (rebuilt by stage 1), and the prior a kinematic run refines ([T, 3, H, W],
        VENC units, on those masks).

        Each frame is synthesised from the frames around it (cyclic), as stage 2 was trained. With
        ``acquisition_noise``, the tissue noise of every frame has the noise level of the acquired
        ``key_frames`` of ``unit`` (stage 1's frames between them are smoother than an acquisition).
        """
        cine = to_network_range(np.asarray(unit, dtype=np.float32))
        noise = None if self.acquisition_noise else False
        sigma = None
        if self.acquisition_noise and len(key_frames):
            sigma = keyframe_noise_sigma(np.asarray(unit, dtype=np.float32)[list(key_frames)])
        return synthesise_cine(self.phase_model, cine, myocardium, s, self.batch_size, self.generator(s.name),
                               tissue_noise=noise, prior=prior, noise_sigma=sigma,
                               wall_band=self.wall_band)  # fmt: skip

    # ------------------------------------------------------------------------------------- slices

    def predict_slice(
        self,
        s: SliceData,
        factor: int | None = None,
        keyframes_only: bool = False,
        prior_curves: SliceCurves | None = None,
    ) -> SliceData:
        """The full-cycle digital twin of one slice.

        Args:
            s: a full cine (frames ``0, k, 2k, ...`` are kept, the others ignored), or a key-frame-only
                slice (``frame_index`` + ``n_frames``; or ``keyframes_only=True`` for consecutive key
                frames ``factor`` apart stored without an index).
            factor: the down-sampling factor k (not needed when ``s.frame_index`` is set).
            keyframes_only: see ``s``.
            prior_curves: for a ``--prior kinematic`` phase run, the slice's prior (``prior_curves`` of its
                subject, as ``predict_subject`` fits it); None: fitted from this slice's key frames alone.

        Returns:
            A ``SliceData`` with every frame of the cycle: ``magnitude`` (input dtype and units, key frames
            unchanged), ``myocardium`` (key frames: the given masks; others: probability >= 0.5),
            ``velocity`` (cm/s), the acquisition attributes of ``s`` and, in ``attrs``, the key frames,
            the method and the magnitude scale used.
        """
        keys = key_frames_of(s, factor, keyframes_only)
        rec = self.rebuild_cine(s, keys)
        prior = None
        if self.refines_kinematic_prior:
            if prior_curves is None:
                prior_curves = self.prior_curves(Subject(s.name, {s.name: s}), {s.name: keys})[s.name]
            prior = prior_curves.paint(rec.myocardium) / venc_scale(s.venc_cm_s, dtype=np.float32)
        velocity = self.synthesise_velocity(rec.unit, rec.myocardium, s, prior, keys.frames)
        velocity *= venc_scale(s.venc_cm_s, dtype=np.float32)
        correction = {} if prior is None else {CORRECTION_ATTR: correction_size(velocity, prior, rec.myocardium, s)}
        magnitude = rec.magnitude
        if s.magnitude.dtype == np.uint16:
            magnitude = np.clip(np.rint(magnitude), 0, np.iinfo(np.uint16).max).astype(np.uint16)
            magnitude[list(keys.frames)] = s.magnitude[list(keys.stored)]
        return replace(
            s,
            magnitude=magnitude,
            myocardium=rec.myocardium.astype(np.uint8),
            velocity=velocity,
            rv_insertion_deg=keyframe_septum(s, keys),
            lv_blood=None,
            rv_blood=None,
            tissue=None,
            velocity_true=None,
            frame_index=None,
            n_frames=None,
            labelled_frames=None,  # the twin has a mask on every frame (key frames given, others synthesised)
            attrs={
                **s.attrs,
                "synthesised_by": self.name,
                "interpolation": self.interpolation,
                "key_frames": np.asarray(keys.frames, dtype=np.int64),
                "magnitude_scale": float(rec.scale),
                **correction,
            },
        )

    def predict_subject(
        self, subject: Subject, factor: int | None = None, keyframes_only: bool = False, progress: bool = False
    ) -> Subject:
        """``predict_slice`` on every slice of ``subject``; the subject's attributes are kept."""
        curves: dict[str, SliceCurves | None] = dict.fromkeys(subject.slices)
        if self.refines_kinematic_prior:
            keys = {name: key_frames_of(s, factor, keyframes_only) for name, s in subject.slices.items()}
            curves.update(self.prior_curves(subject, keys))
        slices = {}
        items = tqdm(subject.slices.items(), desc=f"{self.name} {subject.subject_id}", disable=not progress)
        for name, s in items:
            slices[name] = self.predict_slice(s, factor, keyframes_only, curves[name])
        return Subject(subject_id=subject.subject_id, slices=slices, attrs=dict(subject.attrs))
