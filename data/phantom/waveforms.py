"""Smooth periodic velocity waveforms with exact primitives.

Every motion of the phantom (wall radius, rotation, longitudinal excursion) is written as the time
integral of a velocity made of a few *pulses*, one per mechanical event of the cardiac cycle (systole,
early diastole E', atrial contraction A', untwisting). Working velocity-first is what makes the data
self-consistent: the displacement used to draw the anatomy is the exact integral of the velocity stored
in the phase images, and the timing of each event (onset, peak, end) is a parameter that can be read
straight off the curve.

A pulse is a *split Hann* window: a raised-cosine half from its start to its peak and another from its
peak to its end, with independent rise and fall widths so that e.g. the systolic wave rises fast and
decays slowly. Its first derivative (the acceleration) is continuous, it is exactly zero outside its
support, and its integral has a closed form, so displacements and velocities are analytic (no numerical
integration anywhere). Time is the cycle phase ``phi`` in [0, 1) (fraction of the RR interval) and every
function is periodic with period 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

ArrayLike = float | np.ndarray


@dataclass(frozen=True)
class Pulse:
    """One split-Hann velocity pulse: zero before ``start``, peak ``amplitude`` at ``peak``, zero after ``end``.

    Times are cycle phases; the pulse may straddle phase 0/1 (it is periodic) but must be shorter than
    half a cycle on each side of its peak. ``amplitude`` is in the waveform's velocity unit per unit of
    phase when used as a displacement rate, or directly the velocity when only velocities are needed.
    """

    start: float
    peak: float
    end: float
    amplitude: float

    def __post_init__(self) -> None:
        rise, fall = self.peak - self.start, self.end - self.peak
        if not (0 < rise < 0.5 and 0 < fall < 0.5):
            raise ValueError(f"pulse needs 0 < rise, fall < 0.5 of the cycle, got rise {rise}, fall {fall}")

    @property
    def unit_area(self) -> float:
        """Integral over phase of the pulse with amplitude 1: (rise + fall) / 2."""
        return 0.5 * (self.end - self.start)

    @property
    def area(self) -> float:
        """Integral of the pulse over one period (amplitude x unit area)."""
        return self.amplitude * self.unit_area

    def _offset(self, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Signed offset from the peak wrapped into [-0.5, 0.5), and the number of peaks passed."""
        shifted = phi - self.peak + 0.5
        turns = np.floor(shifted)
        return shifted - turns - 0.5, turns

    def velocity(self, phi: ArrayLike) -> np.ndarray:
        """Pulse value at phase ``phi`` (any shape)."""
        u, _ = self._offset(np.asarray(phi, dtype=np.float64))
        rise, fall = self.peak - self.start, self.end - self.peak
        width = np.where(u < 0, rise, fall)
        inside = np.abs(u) < width
        shape = 0.5 * (1.0 + np.cos(np.pi * np.clip(u / width, -1.0, 1.0)))
        return self.amplitude * np.where(inside, shape, 0.0)

    def primitive(self, phi: ArrayLike) -> np.ndarray:
        """A continuous primitive of the periodic pulse (grows by ``area`` every cycle).

        The closed form: on the rising half ``(u + r)/2 + r/(2 pi) sin(pi u / r)``, on the falling half
        ``r/2 + u/2 + f/(2 pi) sin(pi u / f)``, constant outside; one full area is added per period so
        that the primitive is continuous across the wrap.
        """
        u, turns = self._offset(np.asarray(phi, dtype=np.float64))
        rise, fall = self.peak - self.start, self.end - self.peak
        ur = np.clip(u, -rise, 0.0)
        uf = np.clip(u, 0.0, fall)
        rising = 0.5 * (ur + rise) + rise / (2 * np.pi) * np.sin(np.pi * ur / rise)
        falling = 0.5 * uf + fall / (2 * np.pi) * np.sin(np.pi * uf / fall)
        return self.amplitude * (rising + falling + turns * self.unit_area)


class Waveform:
    """A sum of pulses: velocity(phi) and its exact integral displacement(phi) from phase 0.

    A waveform whose pulse areas sum to zero describes a motion that returns to its start every beat
    (the displacement is then periodic); ``closed`` says whether that holds.
    """

    def __init__(self, pulses: Iterable[Pulse]):
        self.pulses = tuple(pulses)

    @property
    def net_area(self) -> float:
        return float(sum(p.area for p in self.pulses))

    @property
    def closed(self) -> bool:
        scale = max((abs(p.area) for p in self.pulses), default=1.0)
        return abs(self.net_area) <= 1e-9 * max(scale, 1e-12)

    def velocity(self, phi: ArrayLike) -> np.ndarray:
        """Sum of the pulses at phase ``phi`` (rate per unit phase; divide by RR in s for per second)."""
        phi = np.asarray(phi, dtype=np.float64)
        out = np.zeros(phi.shape)
        for p in self.pulses:
            out = out + p.velocity(phi)
        return out

    def displacement(self, phi: ArrayLike) -> np.ndarray:
        """Integral of ``velocity`` over phase from 0 to ``phi`` (periodic when the waveform is closed)."""
        phi = np.asarray(phi, dtype=np.float64)
        out = np.zeros(phi.shape)
        for p in self.pulses:
            out = out + (p.primitive(phi) - p.primitive(0.0))
        return out


def pulse_with_area(start: float, peak: float, end: float, area: float) -> Pulse:
    """A pulse whose integral over phase is ``area`` (amplitude = area / unit area)."""
    return Pulse(start, peak, end, area / (0.5 * (end - start)))
