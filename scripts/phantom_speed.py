"""Speed of the phantom's image side: frames per second of the generator (a healthy subject and patients
of each drawn kind, with their ratio to the healthy one) and of the tissue mask.

    python -m scripts.phantom_speed                 # 128 x 128, 50 frames, best of 3
    python -m scripts.phantom_speed --size 192 --frames 30 --repeats 5

Timings are a benchmark, not a test: a busy machine slows them at random. For reference, the tissue
mask took under 2 ms per 128 x 128 frame on an idle 2-core machine (the bound a test used to assert).
"""

from __future__ import annotations

if not __package__:  # run as a file, python scripts/<tool>.py: put the repository root on the path
    import _repo_root  # noqa: F401

import time
from dataclasses import replace

from data.phantom import PhantomConfig, generate_subject
from data.phantom.config import PATHOLOGY_KINDS
from util.cli import RawDescriptionHelpFormatter, StrictParser
from util.intensity import normalise_magnitude
from util.tissue import tissue_mask_from_magnitude


def best_of(repeats: int, fn) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = StrictParser(
        prog="python -m scripts.phantom_speed", description=__doc__, formatter_class=RawDescriptionHelpFormatter
    )
    p.add_argument("--size", type=int, default=128, help="image size in pixels")
    p.add_argument("--frames", type=int, default=50, help="frames per cycle")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats; the best is reported")
    args = p.parse_args(argv)
    config = PhantomConfig(frames=args.frames, size=args.size)
    subjects = []
    generate = best_of(args.repeats, lambda: subjects.append(generate_subject("speed", 1, config)))
    unit = normalise_magnitude(subjects[0].slices["mid"].magnitude)
    mask = best_of(args.repeats, lambda: tissue_mask_from_magnitude(unit))
    n_slices = len(subjects[0].slices)
    result = {
        "generate_frames_per_s": args.frames * n_slices / generate,
        "tissue_mask_ms_per_frame": 1e3 * mask / args.frames,
    }
    print(
        f"phantom {args.size}x{args.size}, {args.frames} frames x {n_slices} slices (best of {args.repeats}): "
        f"generation {result['generate_frames_per_s']:.0f} frames/s, "
        f"tissue mask {result['tissue_mask_ms_per_frame']:.2f} ms/frame"
    )
    for kind in PATHOLOGY_KINDS:  # a regional delay evaluates the waveforms per pixel: the slow case
        patient = replace(config, random_pathology=(kind,))
        seconds = best_of(args.repeats, lambda c=patient: generate_subject("speed", 1, c))
        result[f"generate_{kind}_frames_per_s"] = args.frames * n_slices / seconds
        print(
            f"  patient ({kind}): {result[f'generate_{kind}_frames_per_s']:.0f} frames/s, "
            f"{generate / seconds:.2f} x the healthy subject's speed"
        )
    return result


if __name__ == "__main__":
    main()
