"""Phase noise in the tissue: the measurement noise a synthesised map needs to look acquired.

The generator is trained with L1 terms against *measured* velocities, whose tissue pixels carry phase
noise that is independent of everything the generator sees. The L1 optimum is the conditional median,
which is noise-free: any independent texture the generator added would raise the L1 term by about a
third of the noise std (E|n1 - n2| - E|n1| for two independent Gaussians), at the paper's weight of 100
far more than the adversarial term can pay back. So a generator trained this way synthesises the
velocity *field*, and its tissue is smoother than an acquisition's (on the phantom, a high-pass std of
~0.1 cm/s against ~1.1 cm/s measured).

``--tissue_noise physics`` adds what the scanner adds. In phase-contrast MR the velocity noise of a
pixel follows from its magnitude signal-to-noise ratio alone:

    sigma_v = sqrt(2) * VENC / (pi * SNR),      SNR = magnitude / sigma_noise

(each of the two phase images of a velocity encoding contributes 1/SNR radians). ``sigma_noise``, the
std of the complex noise per channel, is estimated per frame from the magnitude inside the tissue, where
it is close to Gaussian: the median absolute response to the 3x3 Laplacian-difference kernel
[[1,-2,1],[-2,4,-2],[1,-2,1]] (which cancels smooth anatomy and has gain 6 on white noise) over tissue
pixels at least ``TISSUE_MARGIN_PX`` from the tissue edge, divided by 6 * 0.6745. The median ignores the
few pixels on anatomical edges. On a 20-subject phantom this estimate was within -6%..+9% of the true
noise level in every frame; the Rayleigh statistics of the background were up to 50% high in slices
whose "background" holds faint signal (lung, partial volume). Nothing here reads a measured velocity,
so it works at inference.

The noisy velocity wraps around at +-VENC, as a measured phase does. The noise goes onto the composite
only (what the discriminator judges and what inference returns); the L1 terms keep comparing the
generator's own output, so its target stays the noise-free field.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from util.tissue import tissue_mask_from_magnitude

TISSUE_NOISE_KINDS: tuple[str, ...] = ("none", "physics")
#: tissue pixels closer than this to the tissue edge are left out of the noise estimate
TISSUE_MARGIN_PX = 2
#: fewer usable tissue pixels than this in a frame: use the batch's estimate instead
MIN_TISSUE_PIXELS = 16
#: the kernel's response to white noise of std sigma has std 6 sigma (sqrt of its squared weights, 36)
_KERNEL = ((1.0, -2.0, 1.0), (-2.0, 4.0, -2.0), (1.0, -2.0, 1.0))
#: median |N(0, 1)|
_HALF_NORMAL_MEDIAN = 0.6745
#: SNR floor: below ~1 the phase is close to uniform anyway, and the wrap makes it so
_MIN_SNR = 0.5


def magnitude_noise_sigma(magnitude01: torch.Tensor, tissue: torch.Tensor) -> torch.Tensor:
    """Per-frame std of the complex noise [B] (units of ``magnitude01``), estimated inside the tissue.

    Args:
        magnitude01: magnitude frames [B, H, W] on [0, 1].
        tissue: tissue foreground [B, 1, H, W] or [B, H, W] (non-zero = tissue).

    A frame with fewer than ``MIN_TISSUE_PIXELS`` usable tissue pixels takes the median estimate of the
    other frames of the batch; if no frame has enough, the result is NaN and the caller adds no noise.
    """
    mag = magnitude01.float()
    tissue = (tissue.reshape(mag.shape) != 0).float()
    # Eroding the tissue by min-pooling: a pixel is kept only if every pixel within the margin is tissue.
    size = 2 * TISSUE_MARGIN_PX + 1
    inner = -F.max_pool2d(-tissue[:, None], size, stride=1, padding=TISSUE_MARGIN_PX)[:, 0] > 0
    kernel = torch.tensor(_KERNEL, dtype=mag.dtype, device=mag.device)[None, None]
    response = F.conv2d(mag[:, None], kernel, padding=1)[:, 0].abs()
    values = torch.where(inner, response, torch.full_like(response, math.nan)).flatten(1)
    sigma = values.nanmedian(dim=1).values / (6.0 * _HALF_NORMAL_MEDIAN)
    enough = inner.flatten(1).sum(dim=1) >= MIN_TISSUE_PIXELS
    if not bool(enough.all()):
        fallback = sigma[enough].median() if bool(enough.any()) else torch.tensor(math.nan, device=mag.device)
        sigma = torch.where(enough, sigma, fallback)
    return sigma


def phase_noise_std(magnitude01: torch.Tensor, tissue: torch.Tensor, noise_sigma: float | None = None) -> torch.Tensor:
    """Velocity noise std per pixel [B, 1, H, W] in units of VENC: sqrt(2) / (pi * SNR).

    ``noise_sigma``: the complex noise's std to use for every frame (``keyframe_noise_sigma``), instead of
    each frame's own estimate (``magnitude_noise_sigma``). 0 where the noise level could not be estimated.
    """
    if noise_sigma is None:
        sigma = magnitude_noise_sigma(magnitude01, tissue)  # [B]
    else:
        sigma = torch.full(magnitude01.shape[:1], float(noise_sigma), device=magnitude01.device)
    snr = magnitude01.float() / sigma[:, None, None]
    std = math.sqrt(2.0) / (math.pi * snr.clamp(min=_MIN_SNR))
    return torch.nan_to_num(std, nan=0.0)[:, None]


def keyframe_noise_sigma(key_magnitude01: np.ndarray) -> float | None:
    """The acquisition's complex-noise std (units of the [0, 1] magnitude), read from its key frames
    [K, H, W] (the median of their ``magnitude_noise_sigma``, each on its own tissue foreground); None when
    no key frame has enough tissue.

    Why: stage 1's frames between the key frames are smoother than acquired ones, so a noise level read
    from each of them is about half the acquisition's, and so is the phase noise it gives. The key frames
    are acquired; one slice has one noise level."""
    frames = np.asarray(key_magnitude01, dtype=np.float32)
    if frames.ndim != 3 or not len(frames):
        return None
    tissue = torch.from_numpy(np.asarray(tissue_mask_from_magnitude(frames), dtype=bool))
    sigma = magnitude_noise_sigma(torch.from_numpy(frames), tissue)
    value = float(sigma.nanmedian()) if bool(torch.isfinite(sigma).any()) else math.nan
    return value if math.isfinite(value) and value > 0 else None


def wrap_velocity(v: torch.Tensor) -> torch.Tensor:
    """Fold velocities (units of VENC) into [-1, 1), as phase wraps around at +-VENC."""
    return torch.remainder(v + 1.0, 2.0) - 1.0


def add_tissue_noise(
    velocity: torch.Tensor,
    magnitude01: torch.Tensor,
    tissue: torch.Tensor,
    rng: torch.Generator | None = None,
    noise_sigma: float | None = None,
) -> torch.Tensor:
    """``velocity`` [B, 3, H, W] (units of VENC) plus physics phase noise, wrapped into [-1, 1).

    ``magnitude01`` [B, H, W] is the frame's magnitude on [0, 1] and ``tissue`` its foreground. The three
    directions get independent draws of the same per-pixel std. ``rng`` (any device) makes the
    draw reproducible; ``noise_sigma`` as in ``phase_noise_std``. Float32.
    """
    std = phase_noise_std(magnitude01, tissue, noise_sigma).to(velocity.device)
    draw_device = rng.device if rng is not None else velocity.device
    z = torch.randn(velocity.shape, generator=rng, device=draw_device, dtype=torch.float32)
    return wrap_velocity(velocity.float() + z.to(velocity.device) * std)
