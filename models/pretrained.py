"""The twin shipped with the repository: export it from a reference run, and check what is on disk.

``pretrained/`` holds one run folder per stage (``interp/weights.pt``, ``phase/weights.pt``): the
networks of the run's best checkpoint, its options and its extra state (the phase run's noise model and
population prior), as ``util.checkpoint`` writes a weights-only export. Only what inference and
fine-tuning need is kept: the phase discriminator is dropped (fine-tuning starts a new one), which
halves the phase file. ``pretrained/MODEL_CARD.md`` lists the files' SHA-256 hashes; ``verify`` checks
them all, and ``models.loading`` checks each file before loading it, so a corrupted or swapped file is
caught before it synthesises anything.

    python -m models.pretrained export --interp checkpoints/reference_interp --phase checkpoints/reference_phase
    python -m models.pretrained export --phase checkpoints/reference_phase    # stage 1 stays as shipped
    python -m models.pretrained verify
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from models.loading import (
    MODEL_CARD,
    PRETRAINED_DIR,
    card_hashes,
    checkpoint_path,
    read_checkpoint,
    sha256,
    verify_shipped,
)
from util import checkpoint as ckpt
from util.cli import ToolParser, run_tool, say
from util.errors import CheckpointError, OptionError

STAGES = ("interp", "phase")
#: networks a shipped stage keeps
KEEP_NETWORKS = ("netG",)


def export_stage(run_dir: str | Path, out_dir: Path, which: str = "best") -> Path:
    """Write the shipped form of one run's ``which`` checkpoint to ``out_dir/weights.pt``."""
    source = checkpoint_path(run_dir, which)
    state = read_checkpoint(source)
    networks = {name: w for name, w in state["networks"].items() if name in KEEP_NETWORKS}
    export = {
        "networks": networks,
        "options": ckpt.to_plain(state.get("options", {})),
        "extra_state": ckpt.to_plain(state.get("extra_state", {})),
        "epoch": int(state.get("counter", {}).get("epoch", state.get("epoch", 0))),
    }
    return ckpt.save(out_dir / "weights.pt", export)


def shipped_hashes(root: Path = PRETRAINED_DIR) -> dict[str, str]:
    """SHA-256 of every shipped weights file, keyed by its path under ``root``."""
    return {f"{stage}/weights.pt": sha256(root / stage / "weights.pt") for stage in STAGES}


def verify(root: Path = PRETRAINED_DIR) -> dict[str, str]:
    """Raise ``CheckpointError`` unless every shipped file exists and matches the model card's hash."""
    stated = card_hashes(root)
    for name in (f"{stage}/weights.pt" for stage in STAGES):
        path = root / name
        if not path.is_file():
            raise CheckpointError(f"{path}: shipped weights missing")
        verify_shipped(path)
    return stated


def hash_table(root: Path = PRETRAINED_DIR) -> str:
    """The model card's table of files, sizes and hashes (markdown)."""
    lines = ["| file | SHA-256 | size |", "| --- | --- | --- |"]
    for name, digest in shipped_hashes(root).items():
        size = (root / name).stat().st_size / 2**20
        lines.append(f"| `{name}` | `{digest}` | {size:.1f} MiB |")
    return "\n".join(lines)


def _main(args: argparse.Namespace) -> None:
    if args.command == "export":
        runs = {stage: run for stage, run in (("interp", args.interp), ("phase", args.phase)) if run is not None}
        if not runs:
            raise OptionError("export: give --interp, --phase or both (the stage not given stays as shipped)")
        for stage, run in runs.items():
            say(f"{stage}: {export_stage(run, args.root / stage, args.which)}")
        say(f"paste into {args.root / MODEL_CARD}:\n{hash_table(args.root)}")
    else:
        for name, digest in verify(args.root).items():
            say(f"ok {name} {digest}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = ToolParser(prog="python -m models.pretrained", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=PRETRAINED_DIR, help="the shipped folder")
    sub = parser.add_subparsers(dest="command", required=True, help="what to do")
    export = sub.add_parser("export", help="copy the best weights of runs into the shipped folder")
    export.add_argument("--interp", help="stage-1 run folder (left out: the shipped stage 1 stays)")
    export.add_argument("--phase", help="stage-2 run folder (left out: the shipped stage 2 stays)")
    export.add_argument("--which", default="best", help="checkpoint of each run (best, latest, an epoch)")
    sub.add_parser("verify", help="check the shipped files against the model card's hashes")
    return run_tool(_main, parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
