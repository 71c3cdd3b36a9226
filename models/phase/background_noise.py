"""The background noise model of the foreground-background phase GAN.

Pixels without MR signal (air, lung) carry no velocity: their phase is noise. The generator therefore
only synthesises the tissue foreground, and the background of a synthesised map is filled with draws
from this model. The model must exist at inference, where no measured velocity is available, so it is
either fixed in advance or estimated once from the training set and stored with the checkpoint.

Two kinds, both in units of VENC (velocity / VENC, so [-1, 1]):

* ``'uniform'`` (default): independent draws from U[-1, 1), i.e. U[-VENC, VENC) in cm/s. The phase of a
  pixel without signal is uniformly distributed over (-pi, pi], which is exactly this.
* ``'empirical'``: per-direction quantile tables (``N_QUANTILES`` levels) of the training set's
  background velocities, sampled by inverse transform: a uniform ``u`` is mapped through the
  piecewise-linear inverse CDF. Unlike a mean + std summary this reproduces the whole marginal
  distribution, whatever its shape: uniform, bell-shaped after vendor filtering, with an atom at 0 where
  a scanner masks the background, or with a residual offset. Samples stay within the observed range.

Pixels are drawn independently of each other and of the other directions. Measured background phase is
close to spatially white (thermal noise is white in k-space), so the marginal distribution is what
matters for the discriminator and for downstream statistics.

The state (``state_dict``) holds only strings, numbers and tensors, so it survives
``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch

from data.mvm_io import open_h5
from util.conventions import venc_scale
from util.errors import CheckpointError, DataError, OptionError
from util.intensity import to_unit_range
from util.tissue import tissue_mask_from_magnitude

NOISE_KINDS: tuple[str, ...] = ("uniform", "empirical")
#: quantile levels of the empirical model: fine enough that the table's inverse CDF is smooth, small
#: enough that the state stays a few kilobytes
N_QUANTILES = 1025
#: background pixels kept per direction when fitting (a deterministic subsample beyond this)
MAX_FIT_PIXELS = 2_000_000
#: frames read per slice when fitting: backgrounds change little over the cycle
MAX_FIT_FRAMES_PER_SLICE = 12
STATE_VERSION = 1


class BackgroundNoise:
    """Per-direction background velocity noise, in units of VENC.

    ``sample(shape)`` returns a tensor whose direction axis is ``-3`` (``[..., 3, H, W]``).
    """

    def __init__(self, kind: str = "uniform") -> None:
        if kind not in NOISE_KINDS:
            raise OptionError(f"--noise_model {kind!r} is not a noise model; valid: {', '.join(NOISE_KINDS)}")
        self.kind = kind
        self.quantiles: torch.Tensor | None = None  # [3, N_QUANTILES], empirical only
        self.mean: torch.Tensor | None = None  # [3], of the fitted data (for reports)
        self.std: torch.Tensor | None = None
        self.n_pixels = 0
        self._on_device: dict[torch.device, torch.Tensor] = {}

    # ------------------------------------------------------------------------------------- fitting

    @property
    def ready(self) -> bool:
        """Whether ``sample`` can be called: always for 'uniform', after ``fit`` for 'empirical'."""
        return self.kind == "uniform" or self.quantiles is not None

    def fit(self, values: torch.Tensor | np.ndarray) -> BackgroundNoise:
        """Estimate the empirical model from background velocities ``values`` [3, N] in VENC units.

        For 'uniform' nothing is estimated, but the statistics are still recorded for reports.
        """
        if isinstance(values, torch.Tensor):
            v = values.detach().to("cpu", torch.float64)
        else:
            v = torch.as_tensor(np.asarray(values), dtype=torch.float64)
        if v.dim() != 2 or v.shape[0] != 3:
            raise DataError(f"background noise: expected values [3, N], got {list(v.shape)}")
        v = v[:, torch.isfinite(v).all(dim=0)]
        if v.shape[1] < 2:
            raise DataError(
                "background noise: the training set has no background pixels to estimate the empirical noise "
                "model from (every pixel is tissue); use --noise_model uniform"
            )
        levels = torch.linspace(0.0, 1.0, N_QUANTILES, dtype=torch.float64)
        # torch.quantile refuses very large inputs; the fit set is capped below that by collect_background.
        self.quantiles = torch.quantile(v, levels, dim=1).T.contiguous().float()
        self.mean = v.mean(dim=1).float()
        self.std = v.std(dim=1).float()
        self.n_pixels = int(v.shape[1])
        self._on_device = {}
        return self

    # ------------------------------------------------------------------------------------ sampling

    def sample(
        self,
        shape: tuple[int, ...] | torch.Size,
        device: torch.device | str = "cpu",
        rng: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Draw float32 noise of ``shape`` ([..., 3, H, W]) on ``device``.

        ``rng`` makes the draw reproducible; it may live on another device than ``device`` (the
        draw is made where the generator lives, then moved).
        """
        shape = tuple(shape)
        if len(shape) < 3 or shape[-3] != 3:
            raise ValueError(f"noise shape must be [..., 3, H, W], got {list(shape)}")
        if not self.ready:
            raise RuntimeError("the empirical noise model has not been fitted (call fit or load its state)")
        device = torch.device(device)
        draw_device = rng.device if rng is not None else device
        u = torch.rand(shape, generator=rng, device=draw_device, dtype=torch.float32).to(device)
        if self.kind == "uniform":
            # u in [0, 1) -> [-1, 1); 2u - 1 is exact in float32, so 1 is never reached.
            return u * 2.0 - 1.0
        return self._inverse_cdf(u)

    def _inverse_cdf(self, u: torch.Tensor) -> torch.Tensor:
        q = self._quantiles_on(u.device)  # [3, K]
        k = q.shape[1]
        pos = u * (k - 1)
        idx = pos.floor().long().clamp_(0, k - 2)
        frac = pos - idx
        view = [1] * u.dim()
        view[-3] = 3
        channel = torch.arange(3, device=u.device).view(view).expand_as(idx)
        lo = q[channel, idx]
        hi = q[channel, idx + 1]
        return lo + frac * (hi - lo)

    def _quantiles_on(self, device: torch.device) -> torch.Tensor:
        if device not in self._on_device:
            self._on_device[device] = self.quantiles.to(device)
        return self._on_device[device]

    # ------------------------------------------------------------------------------ reporting, state

    def describe(self) -> str:
        if self.kind == "uniform":
            return "background noise: uniform over [-VENC, VENC)"
        if self.quantiles is None:
            return "background noise: empirical (not fitted)"
        std = ", ".join(f"{s:.3f}" for s in self.std.tolist())
        mean = ", ".join(f"{m:+.3f}" for m in self.mean.tolist())
        return (
            f"background noise: empirical from {self.n_pixels} training background pixels per direction; "
            f"mean ({mean}) std ({std}) x VENC"
        )

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"version": STATE_VERSION, "kind": self.kind, "n_pixels": self.n_pixels}
        if self.quantiles is not None:
            state.update(quantiles=self.quantiles.cpu(), mean=self.mean.cpu(), std=self.std.cpu())
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        kind = state.get("kind")
        if kind not in NOISE_KINDS:
            raise CheckpointError(f"background noise state has an unknown kind {kind!r}")
        self.kind = kind
        quantiles = state.get("quantiles")
        if quantiles is None:
            if kind == "empirical":
                raise CheckpointError("background noise state is 'empirical' but holds no quantile table")
            self.quantiles = self.mean = self.std = None
        else:
            quantiles = torch.as_tensor(quantiles, dtype=torch.float32)
            if quantiles.dim() != 2 or quantiles.shape[0] != 3 or quantiles.shape[1] < 2:
                raise CheckpointError(f"background noise quantiles must be [3, K>=2], got {list(quantiles.shape)}")
            self.quantiles = quantiles.contiguous()
            self.mean = torch.as_tensor(state["mean"], dtype=torch.float32)
            self.std = torch.as_tensor(state["std"], dtype=torch.float32)
        self.n_pixels = int(state.get("n_pixels", 0))
        self._on_device = {}


# ------------------------------------------------------------------------------------ estimation


class _SliceEntry(Protocol):
    """What ``collect_background`` needs to know of a slice (``data.samples.slice_dataset.SliceEntry`` has it)."""

    path: Any
    slice_name: str
    num_frames: int
    mag_scale: float
    venc_cm_s: np.ndarray


class _SliceSource(Protocol):
    """A dataset's index of slices (``data.samples.slice_dataset.SliceDataset`` has it)."""

    slices: list[_SliceEntry]


def _read_full_frames(entry: _SliceEntry, frames: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude [F, H, W] and velocity [F, 3, H, W] of whole frames (no crop, no augmentation)."""
    with open_h5(entry.path) as f:
        group = f[entry.slice_name]
        return group["magnitude"][frames], group["velocity"][frames]


def collect_background(
    dataset: _SliceSource,
    max_frames_per_slice: int = MAX_FIT_FRAMES_PER_SLICE,
    max_pixels: int = MAX_FIT_PIXELS,
    seed: int = 0,
) -> np.ndarray:
    """Measured background velocities [3, N] (VENC units) of a dataset's slices.

    The background is exactly what the composite fills at inference: the complement of
    ``util.tissue.tissue_mask_from_magnitude`` of the magnitude, scaled per slice as the datasets scale
    it, over *whole* frames. Whole frames even when training uses ``--crop_size``: inference composites
    whole images, and a crop around the heart over-represents the dark blood pools, whose low-signal
    phase is narrower than that of air and lung. Frames are read raw (no augmentation: a quarter turn
    would swap vx and vy). Up to ``max_frames_per_slice`` evenly spaced frames per slice; beyond
    ``max_pixels`` a seeded random subsample is kept.
    """
    if not dataset.slices:
        raise DataError("background noise: the training set has no slices")
    rng = np.random.default_rng(seed)
    # Each slice keeps at most twice its fair share, so memory stays bounded on large cohorts.
    per_slice = 2 * -(-max_pixels // len(dataset.slices))
    chunks = []
    for entry in dataset.slices:
        n = entry.num_frames
        frames = sorted({round(float(f)) for f in np.linspace(0, n - 1, min(n, max_frames_per_slice))})
        magnitude, velocity = _read_full_frames(entry, frames)
        mags = to_unit_range(magnitude, entry.mag_scale)
        vel = velocity / venc_scale(entry.venc_cm_s, dtype=np.float32)
        background = ~np.asarray(tissue_mask_from_magnitude(mags), dtype=bool)  # [F, H, W]
        chunk = np.moveaxis(vel, 1, 0)[:, background].astype(np.float32)  # [3, N]
        if chunk.shape[1] > per_slice:
            chunk = chunk[:, np.sort(rng.choice(chunk.shape[1], size=per_slice, replace=False))]
        chunks.append(chunk)
    values = np.concatenate(chunks, axis=1)
    if values.shape[1] > max_pixels:
        values = values[:, np.sort(rng.choice(values.shape[1], size=max_pixels, replace=False))]
    return values
