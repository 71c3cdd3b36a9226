"""Simulated phase-contrast acquisition: complex noise, magnitude and wrapped phase.

The scan is modelled at the level of complex MR signals, which yields every noise property of real
velocity mapping from one assumption (independent complex Gaussian noise of std ``sigma`` per channel
in each acquisition):

* a velocity-compensated reference ``z_ref = S + n0`` and, per direction ``d``, a velocity-encoded
  acquisition ``z_d = S exp(i pi v_d / VENC_d) + n_d`` (4-point encoding with a shared reference);
* the stored magnitude is ``|z_ref|``: Rician, with SNR ``S / sigma`` (the subject's myocardial SNR,
  since the noise-free myocardial signal is normalised to 1 on average);
* the measured velocity is ``angle(z_d conj(z_ref)) / pi * VENC_d``. In tissue this is the true velocity
  plus approximately Gaussian noise with ``sigma_v = sqrt(2) VENC / (pi SNR)`` (each of the two phases
  contributes ``sigma / S``); where there is no signal (air, lung, black blood) it is the difference
  of two independent uniform phases, i.e. exactly uniform over [-VENC, VENC): that is why the
  background of real phase images is uniform noise rather than zero. Velocities beyond VENC wrap
  around (aliasing), as the phase lives on a circle.

An optional eddy-current offset (linear spatial ramp per direction, constant over the cycle) is added
to the encoded phase only.
"""

from __future__ import annotations

import numpy as np


def phase_noise_std(venc_cm_s: float, snr: float) -> float:
    """Velocity noise std (cm/s) in tissue of magnitude SNR ``snr``: sqrt(2) VENC / (pi SNR)."""
    return float(np.sqrt(2.0) * venc_cm_s / (np.pi * snr))


def eddy_offsets(rng: np.random.Generator, amplitude_cm_s: float, size: int) -> np.ndarray | None:
    """Eddy-current velocity offsets [3, H, W] (cm/s), at most ``amplitude_cm_s`` anywhere, or None."""
    if amplitude_cm_s <= 0:
        return None
    coef = rng.uniform(-1.0, 1.0, size=(3, 3))
    coef = coef / np.abs(coef).sum(axis=1, keepdims=True)
    c = np.linspace(-1.0, 1.0, size)
    xn, yn = c[None, :], c[:, None]
    ramps = coef[:, 0, None, None] + coef[:, 1, None, None] * xn + coef[:, 2, None, None] * yn
    return (amplitude_cm_s * ramps).astype(np.float32)


def acquire(
    rng: np.random.Generator,
    signal: np.ndarray,
    velocity: np.ndarray,
    venc_cm_s: np.ndarray,
    sigma: float,
    eddy: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy magnitude [T, H, W] and measured (wrapped) velocity [T, 3, H, W], both float32.

    Args:
        rng: the slice's noise generator.
        signal: noise-free magnitude [T, H, W].
        velocity: velocity of the signal in each pixel [T, 3, H, W] (cm/s).
        venc_cm_s: VENC per direction (3,).
        sigma: complex noise std per channel, in units of ``signal``.
        eddy: optional offsets [3, H, W] (cm/s) added to the encoded phase.
    """
    shape = signal.shape
    s = signal.astype(np.float32)

    def noise() -> np.ndarray:
        # Real and imaginary parts drawn together and viewed as complex64 (no float64 temporaries).
        pairs = rng.standard_normal((*shape, 2), dtype=np.float32)
        pairs *= np.float32(sigma)
        return pairs.view(np.complex64)[..., 0]

    reference = s + noise()
    magnitude = np.abs(reference).astype(np.float32)
    ref_conj = np.conj(reference)
    measured = np.empty(velocity.shape, dtype=np.float32)
    venc = np.asarray(venc_cm_s, dtype=np.float32)
    for d in range(3):
        v = velocity[:, d] if eddy is None else velocity[:, d] + eddy[d]
        phase = (np.float32(np.pi) / venc[d]) * v
        encoded = noise()
        encoded.real += s * np.cos(phase)
        encoded.imag += s * np.sin(phase)
        m = np.angle(encoded * ref_conj) * (venc[d] / np.float32(np.pi))
        # angle() returns (-pi, pi]; fold the +VENC end (and float32 round-off) into [-VENC, VENC).
        measured[:, d] = np.where(m >= venc[d], m - 2 * venc[d], m)
    return magnitude, measured
