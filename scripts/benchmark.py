"""Performance benchmark of HDL-MVM: training, chained synthesis and data loading, in one run.

    python -m scripts.benchmark --device cuda                  # the full benchmark on a GPU
    python -m scripts.benchmark --device cpu --quick           # tiny sizes, a minute or so on 2 cores
    python -m scripts.benchmark --device cuda --out results.json --peak_tflops 989
    python -m scripts.benchmark chain                          # test.py --model hdl: seconds a subject by part

Three measurements, each against a reference measured in the same run, so every ratio compares runs
on the same machine, under the same load, minutes apart:

(a) training throughput (images/s) and peak memory of both stages. The reference is the same networks
    in fp32, eager, NCHW, ``torch.optim.Adam`` with its default settings, cuDNN with its defaults,
    stepped the way the paper's loop does it (generator step, then a discriminator step with separate
    passes on real and on fake, every loss read with ``.item()`` at every step). The other modes run
    the project's own engine (``util.trainer.Trainer.train_step``) with precision, memory format and
    ``torch.compile`` varied one at a time.
(b) latency of the chained synthesis of one subject (``HDLPredictor.predict_subject``): fp32, NCHW,
    small frame batches against bf16 autocast, large frame batches, channels_last and optionally
    ``torch.compile``.
(c) data-loading throughput of the phase and interpolation datasets on a phantom cohort generated
    into a temporary folder, with 0, 1 and N workers, with the HDF5 files kept open per worker (the
    project's reader) or reopened for every sample (the reference reader), and whether the loader
    keeps up with the best training rate measured in (a).

Timing: every mode is warmed up first (cuDNN autotuning, allocator growth, compilation), and the device
is synchronised only around the timed region, never inside it. See docs/PERFORMANCE.md.

``chain`` (its own options: ``python -m scripts.benchmark chain --help``) times the chained evaluation
instead: seconds per subject of stage 1, stage 2, the prior rows, scoring and pages, and the speed-up of
``--workers`` (``scripts/benchmarking/chain.py``).

It runs as a module (``python -m scripts.benchmark``, from the repository root) or as a file
(``python scripts/benchmark.py``, from anywhere); the code lives in ``scripts/benchmarking/``, one
module per section.
"""

from __future__ import annotations

if not __package__:  # run as a file, python scripts/<tool>.py: put the repository root on the path
    import _repo_root  # noqa: F401

from scripts.benchmarking.cli import main

if __name__ == "__main__":
    main()
