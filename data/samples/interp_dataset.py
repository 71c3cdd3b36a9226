"""Stage-1 samples: two key frames ``k`` apart, their masks, and a frame between them to predict.

The cycle is periodic: key frames wrap around the end of the cycle (frame ``T`` is frame ``0``). During
training the key-frame grid is shifted at random and ``k`` may be drawn from ``--factors``, so the
network sees every phase of the cycle at every position between key frames. For validation and testing
the grid is the one test.py uses, key frames ``0, k, 2k, ...``, and every other frame is a target; the
last gap is shorter when ``k`` does not divide ``T``.

The time conditioning (``data.cycle.time_conditioning``) is returned raw, as
``time = [alpha, phase0, phase1, phase_target]``: alpha is where the target lies between the key frames
(0..1), the phases where the frames lie in the cycle (0..1). The network turns them into features.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from data.cycle import interpolation_targets, time_conditioning
from data.samples.slice_dataset import SliceDataset
from data.transforms import dihedral, random_dihedral
from util.errors import OptionError
from util.intensity import to_network_range, to_unit_range
from util.tissue import tissue_mask_from_magnitude


class InterpDataset(SliceDataset):
    """Samples for the frame-interpolation stage."""

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        parser = SliceDataset.modify_commandline_options(parser, is_train)
        parser.add_argument(
            "--factor", type=int, default=6, help="temporal down-sampling factor k (key frame every k frames)"
        )
        if is_train:
            parser.add_argument(
                "--factors",
                type=int,
                nargs="+",
                default=None,
                help="train on factors drawn from this list (default: --factor only)",
            )
        return parser

    def __init__(self, opt: argparse.Namespace, split: str) -> None:
        factors = getattr(opt, "factors", None) or [opt.factor]
        for k in [opt.factor, *factors]:
            if k < 2:
                raise OptionError(f"--factor/--factors must be >= 2, got {k}")
        self.factors = [int(k) for k in factors]
        super().__init__(opt, split)
        too_short = [e for e in self.slices if e.num_frames <= max(self.factors)]
        if too_short:
            e = too_short[0]
            raise OptionError(
                f"{e.path}: slice {e.slice_name!r} has {e.num_frames} frames, too few for factor "
                f"{max(self.factors)} (need more frames than the factor)"
            )
        self.training = split == "train"
        if self.training:
            # One item per (slice, first key frame); the target and k are drawn per epoch.
            self.items = [(i, t0) for i, e in enumerate(self.slices) for t0 in range(e.num_frames)]
        else:
            self.items = [
                (i, target, k0, k1)
                for i, e in enumerate(self.slices)
                for target, k0, k1 in interpolation_targets(e.num_frames, opt.factor)
            ]

    def __len__(self) -> int:
        return len(self.items)

    def _choose(self, index: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
        """(slice index, target, key0, key1) of sample ``index``; key1 may be past the cycle's end."""
        if not self.training:
            return self.items[index]
        i, k0 = self.items[index]
        k = int(rng.choice(self.factors))
        return i, k0 + int(rng.integers(1, k)), k0, k0 + k

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str | int]:
        rng = self.rng(index)
        i, target, k0, k1 = self._choose(index, rng)
        entry = self.slices[i]
        t_count = entry.num_frames
        frames = [k0 % t_count, k1 % t_count, target % t_count]
        mag = to_unit_range(self.read_frames(entry, "magnitude", frames), entry.mag_scale)
        myo = self.read_frames(entry, "myocardium", frames).astype(np.float32)
        tissue = tissue_mask_from_magnitude(mag[2]).astype(np.float32)
        if self.augment:
            k_rot, flip = random_dihedral(rng, mag.shape)
            mag, myo, tissue = (dihedral(a, k_rot, flip) for a in (mag, myo, tissue))
        mag = to_network_range(mag)
        return {
            "key_magnitude": self.as_tensor(mag[:2]),
            "key_mask": self.as_tensor(myo[:2]),
            "target_magnitude": self.as_tensor(mag[2:3]),
            "target_mask": self.as_tensor(myo[2:3]),
            "target_tissue": self.as_tensor(tissue[None]),
            "time": torch.from_numpy(time_conditioning(target, k0, k1, t_count)),
            "slice_index": i,
            "frame": target % t_count,
        }
