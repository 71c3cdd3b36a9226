"""The phantom's altered and independent waveform shapes (``--waveform_shape``), checked by value.

They exist to test methods on hearts whose curve *shapes* differ from the reference model's, so the
tests state how far they differ (correlation of the global curves, time to the systolic peak, E'/A'
ratio, diastasis), that every motion still closes over the beat, that the choice is recorded in the
files, and that the default leaves every other draw of a subject as it was. The finite-difference checks
of the velocities cover both shapes in tests/test_phantom_motion.py.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from data.mvm_io import SLICE_POSITIONS
from data.phantom import PhantomConfig, SliceMotion, analytic_global_curves, generate_subject, wall_radii
from data.phantom.cli import build_parser
from data.phantom.cli import main as phantom_main
from data.phantom.params import SliceParams
from data.phantom.sampling import draw_subject
from data.phantom.variety import INDEPENDENT_RANGES
from util.errors import OptionError

SEEDS = range(8)
FRAMES = 100


def _pair(seed: int) -> tuple[dict[str, SliceParams], dict[str, SliceParams]]:
    """The same subject drawn with the reference and with the altered shapes."""
    _, reference = draw_subject(np.random.default_rng(seed), PhantomConfig())
    _, altered = draw_subject(np.random.default_rng(seed), PhantomConfig(waveform_shape="altered"))
    return reference, altered


def _peak_in_systole(curve: np.ndarray, p: SliceParams) -> float:
    """Time of the systolic maximum as a fraction of systole (onset 0, end-systole 1)."""
    phi = np.arange(curve.size) / curve.size
    systole = (phi >= p.timing.onset) & (phi <= p.timing.end_systole)
    peak = phi[systole][np.argmax(curve[systole])]
    return float((peak - p.timing.onset) / (p.timing.end_systole - p.timing.onset))


def test_altered_curves_differ_from_the_reference_ones_by_value():
    """Same subjects, 8 seeds x 3 slices: the global radial and longitudinal curves correlate at most
    0.9 with the reference ones (median at most 0.8; measured 0.61 and 0.71 over 40 seeds), the
    longitudinal systolic peak moves from the first half of systole (reference 0.30-0.46 of it) to the
    second (median >= 0.6), A' exceeds E' (reference: A'/E' 0.35-0.7) and diastasis is shorter."""
    r: dict[str, list[float]] = {"radial": [], "longitudinal": []}
    peaks_ref, peaks_alt = [], []
    for seed in SEEDS:
        reference, altered = _pair(seed)
        for position in SLICE_POSITIONS:
            a, b = reference[position], altered[position]
            ca, cb = analytic_global_curves(a, FRAMES), analytic_global_curves(b, FRAMES)
            for component in r:
                r[component].append(float(np.corrcoef(ca[component], cb[component])[0, 1]))
            peaks_ref.append(_peak_in_systole(ca["longitudinal"], a))
            peaks_alt.append(_peak_in_systole(cb["longitudinal"], b))
            assert b.long_a_cm_s >= b.long_e_cm_s and a.long_a_cm_s < a.long_e_cm_s
            assert b.timing.a_start - b.timing.e_end < a.timing.a_start - a.timing.e_end
    for component, values in r.items():
        assert max(values) < 0.9 and np.median(values) < 0.8, component
    assert max(peaks_ref) < 0.5 and np.median(peaks_alt) >= 0.6


@pytest.mark.parametrize("seed", [1, 6])
def test_altered_motion_closes_and_its_velocity_integrates_to_its_displacement(seed):
    """Every waveform of an altered slice returns to its start each beat, and the analytic wall radius
    is the integral of its rate (trapezoid over 400 frames, 0.02 mm), as for the reference shapes."""
    _, altered = _pair(seed)
    for position in SLICE_POSITIONS:
        p = altered[position]
        assert p.systolic_humps is not None and sum(h[3] for h in p.systolic_humps) == pytest.approx(1.0)
        motion = SliceMotion(p)
        for wave in (motion.contraction, motion.rotation_wave, motion.longitudinal):
            assert wave.closed
        w = wall_radii(p, 400)
        dt = p.rr_ms / 1000.0 / 400
        integral = np.concatenate([[0.0], np.cumsum(0.5 * (w["endo_rate_mm_s"][1:] + w["endo_rate_mm_s"][:-1]) * dt)])
        np.testing.assert_allclose(integral, w["endo_mm"] - w["endo_mm"][0], atol=0.02)


def test_the_option_changes_only_the_waveforms_of_a_subject():
    """The altered shapes are drawn from a child stream, so the rest of a subject (geometry, scene,
    anatomy, acquisition) is the reference subject's; reference slices carry no ``systolic_humps``."""
    waveform_fields = {"timing", "es_fraction", "radial_e_fraction", "long_e_cm_s", "long_a_cm_s", "systolic_humps"}
    for seed in (0, 3):
        reference, altered = _pair(seed)
        for position in SLICE_POSITIONS:
            a, b = reference[position], altered[position]
            assert "systolic_humps" not in a.to_dict() and b.to_dict()["systolic_humps"] == b.systolic_humps
            for f in dataclasses.fields(SliceParams):
                if f.name not in waveform_fields:
                    assert getattr(a, f.name) == getattr(b, f.name), f.name
            assert a.timing.onset == b.timing.onset and a.timing.end_systole == b.timing.end_systole


def test_files_record_the_shape_and_rebuild_its_curves():
    """The config attribute records the choice; a slice's stored parameters rebuild its exact curves."""
    subject = generate_subject("alt", 11, PhantomConfig(frames=12, size=48, waveform_shape="altered"))
    assert subject.attrs["phantom"]["config"]["waveform_shape"] == "altered"
    s = subject.slices["basal"]
    rebuilt = SliceParams.from_dict(s.attrs["phantom"])
    assert rebuilt.systolic_humps == s.attrs["phantom"]["systolic_humps"]
    np.testing.assert_array_equal(analytic_global_curves(rebuilt, 12)["radial"], analytic_global_curves(s)["radial"])
    reference = generate_subject("ref", 11, PhantomConfig(frames=12, size=48))
    assert reference.attrs["phantom"]["config"]["waveform_shape"] == "reference"
    assert "systolic_humps" not in reference.slices["basal"].attrs["phantom"]


def test_bad_shape_gives_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "never"
    argv = ["--out", str(out), "--subjects", "1", "--frames", "8", "--size", "32", "--waveform_shape", "wavy"]
    assert phantom_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "waveform_shape: unknown shape 'wavy' (valid: reference, altered, independent)" in err[0]
    assert not out.exists()
    with pytest.raises(OptionError, match="waveform_shape"):
        PhantomConfig(waveform_shape="")
    assert "--waveform_shape" in build_parser().format_help()


def test_independent_waveforms_are_drawn_apart_and_close():
    """20 subjects: systolic duration, E' duration, A' peak and the longitudinal peaks are drawn in
    their documented ranges, independently (the systolic duration does not predict the E' one, as it
    does not in the template warp), and every motion closes over the beat."""
    config = PhantomConfig(waveform_shape="independent")
    systole, e_duration, a_over_e = [], [], []
    for seed in range(20):
        _, slices = draw_subject(np.random.default_rng(seed), config)
        t = slices["basal"].timing
        systole.append(t.end_systole - t.onset)
        e_duration.append(t.e_end - t.e_start)
        a_over_e.append(slices["basal"].long_a_cm_s / slices["basal"].long_e_cm_s)
        assert INDEPENDENT_RANGES["onset"][0] <= t.onset <= INDEPENDENT_RANGES["onset"][1]
        assert INDEPENDENT_RANGES["a_peak"][0] <= t.a_peak <= INDEPENDENT_RANGES["a_peak"][1]
        assert t.end_systole < t.e_start < t.e_end < t.a_start < t.a_end < 1.0
        for p in slices.values():
            motion = SliceMotion(p)
            assert motion.contraction.closed and motion.rotation_wave.closed and motion.longitudinal.closed
    assert INDEPENDENT_RANGES["systole"][0] <= min(systole) and max(systole) <= INDEPENDENT_RANGES["systole"][1]
    assert max(systole) - min(systole) > 0.08 and max(a_over_e) / min(a_over_e) > 2.0
    assert abs(np.corrcoef(systole, e_duration)[0, 1]) < 0.6


def test_independent_durations_show_in_velocity_true():
    """Rendered and read like a scan: the myocardium-mean longitudinal velocity_true (100 frames) is
    positive from the drawn onset to the drawn end-systole and peaks at the drawn systolic peak, and its
    E' and A' minima lie at the drawn peaks, each within one frame."""
    frames = 100
    config = PhantomConfig(frames=frames, size=64, waveform_shape="independent")
    subject = generate_subject("ind", 5, config)
    s = subject.slices["mid"]
    t = SliceParams.from_dict(s.attrs["phantom"]).timing
    vz = np.array([s.velocity_true[f, 2][s.myocardium[f] > 0].mean() for f in range(frames)])
    phase = np.arange(frames) / frames
    positive = phase[vz > 1e-3]
    systolic = positive[positive < 0.6]
    assert systolic.min() - t.onset == pytest.approx(0.0, abs=1.0 / frames)
    assert systolic.max() - t.end_systole == pytest.approx(0.0, abs=1.0 / frames)
    assert phase[np.argmax(vz)] == pytest.approx(t.systolic_peak, abs=1.0 / frames)
    early = (phase > t.end_systole) & (phase < 0.5 * (t.e_end + t.a_start))
    assert phase[early][np.argmin(vz[early])] == pytest.approx(t.e_peak, abs=1.0 / frames)
    late = phase > 0.5 * (t.e_end + t.a_start)
    assert phase[late][np.argmin(vz[late])] == pytest.approx(t.a_peak, abs=1.0 / frames)
    assert subject.attrs["phantom"]["config"]["waveform_shape"] == "independent"
