"""Digital-twin phantom of three-directional myocardial velocity mapping (3Dir MVM) short-axis cines.

No public 3Dir MVM data exists, so subjects are synthesised with *known* motion: an LV ring (with RV,
chest wall, lungs and liver around it) whose every material point follows an analytic, incompressible
motion model; magnitude and phase images are drawn from that model at every frame and acquired through
a complex-noise phase-contrast model (Rician magnitude, Gaussian phase noise in tissue, uniform phase
where there is no signal, wrap-around beyond VENC).

Public API:
    PhantomConfig                 cohort settings (grid, SNR/VENC/RR ranges, eddy currents, pathology)
    generate_subject(id, seed, config) -> Subject       one subject, slices basal / mid / apical
    generate_cohort(out_dir, n, seed, config, workers)   subject_000.h5 ... + splits.json
    analytic_global_curves(slice, frames)               exact radial / circumferential / longitudinal
    analytic_segment_curves(slice, frames)              the same per AHA segment
    wall_radii(slice, frames)                           endo / epi radius and mean wall distance per frame
    SliceParams, SliceMotion                            the parameters and motion model of a slice

Command line: ``python -m data.phantom --out DIR --subjects N --frames T --size S --seed K`` (``--help``).

One module per concept:

    config             cohort settings: image grid, acquisition ranges, pathology
    params             parameter records of a slice: timing, geometry, motion amplitudes, pathology, surroundings
    sampling           drawing a subject's parameters from its random generator
    cycle_draws        a subject's cycle: landmark timing, waveform shapes, amplitudes solved for velocity targets
    anatomy_draws      what a slice looks like: surroundings, papillary muscles, trabeculae, texture
    variety            out-of-model draws: pathology, waveforms and images unlike the reference phantom's
    waveforms          smooth periodic velocity waveforms with exact primitives
    segments           AHA segments as angular sectors, smooth regional weights for pathology
    motion             where every material point of the LV and RV is, and how fast it moves
    anatomy            drawing a slice: static surroundings once, the moving heart at every frame
    acquisition        simulated phase-contrast acquisition: complex noise, magnitude, wrapped phase
    analytic           exact velocity curves and wall radii of a slice, from its motion model
    generate           subjects and cohorts, written in the canonical file format
    pathology_summary  what a cohort's subjects were given, healthy or patient, one line each
    cli                the command line (``python -m data.phantom``)
    figure             the figure of one subject for docs/PHANTOM.md
"""

from data.phantom.analytic import (
    analytic_global_curves,
    analytic_segment_curves,
    frame_phases,
    slice_params,
    wall_radii,
)
from data.phantom.config import PhantomConfig
from data.phantom.generate import generate_cohort, generate_subject, subject_seed
from data.phantom.motion import SliceMotion
from data.phantom.params import SliceParams

__all__ = [
    "PhantomConfig",
    "SliceMotion",
    "SliceParams",
    "analytic_global_curves",
    "analytic_segment_curves",
    "frame_phases",
    "generate_cohort",
    "generate_subject",
    "slice_params",
    "subject_seed",
    "wall_radii",
]
