"""Stage-2 samples: the magnitude frames around t (t-1, t, t+1 for ``--temporal_window 3``; cyclic), where
frame t lies in the cycle and which slice it is, and the velocity of frame t.

Velocity is returned divided by the slice's VENC per direction, so it lies in [-1, 1] (augmentation
turns the vector in cm/s: after a quarter turn of a slice whose in-plane VENCs differ, a value may
exceed 1 by their ratio). The tissue foreground comes from the magnitude through
``util.tissue.tissue_mask_from_magnitude``, the same function the synthesis uses at inference, so the
generator is trained on the foreground it will be given. On the phantom, the noise-free
``velocity_true`` comes along, for a run trained towards it (``--l1_target noise_free``); zeros and
``has_velocity_true`` False elsewhere.

A model whose generator refines a prior the data layer cannot compute (the kinematic prior, read from
each subject's key frames by ``models.kinematics``) gives the dataset ``prior_of(slice_index, frame,
myocardium) -> [3, H, W]`` (cm/s): the sample's frame is painted on its own (cropped) myocardium before the
augmentation, then turned and scaled exactly as the velocity, and returned as ``prior``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
import torch

from data.mvm_io import SLICE_POSITIONS
from data.samples.slice_dataset import SliceDataset
from data.transforms import dihedral, dihedral_velocity, neighbour_indices, random_dihedral, window_centre
from util.conventions import venc_scale
from util.intensity import to_network_range, to_unit_range
from util.tissue import tissue_mask_from_magnitude


class PhaseDataset(SliceDataset):
    """Samples for the velocity-synthesis stage: one per frame of every slice."""

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        return SliceDataset.modify_commandline_options(parser, is_train)

    @classmethod
    def from_options(cls, opt: argparse.Namespace, split: str) -> PhaseDataset:
        """The dataset of one split, with the window of frames the phase model was given (``--temporal_window``)."""
        return cls(opt, split, window=int(opt.temporal_window))

    def __init__(self, opt: argparse.Namespace, split: str, *, window: int) -> None:
        super().__init__(opt, split)
        self.window = int(window)
        self.items = [(i, t) for i, e in enumerate(self.slices) for t in range(e.num_frames)]
        #: the prior of a sample's frame in cm/s, from (slice index, frame, myocardium [H, W]); set by the model
        self.prior_of: Callable[[int, int, np.ndarray], np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | int]:
        i, t = self.items[index]
        entry = self.slices[i]
        n = entry.num_frames
        window = list(neighbour_indices(t, n, self.window))
        mag = to_unit_range(self.read_frames(entry, "magnitude", window), entry.mag_scale)
        # In cm/s until after the augmentation: a quarter turn moves vy into the x channel, which the
        # slice's x VENC then scales (turning VENC-scaled values would mix the VENCs of x and y).
        velocity = self.read_frames(entry, "velocity", [t])[0]
        if entry.has_velocity_true:
            velocity_true = self.read_frames(entry, "velocity_true", [t])[0]
        else:
            velocity_true = np.zeros_like(velocity)
        myo = self.read_frames(entry, "myocardium", [t]).astype(np.float32)
        tissue = tissue_mask_from_magnitude(mag[window_centre(self.window)])[None].astype(np.float32)
        prior = None if self.prior_of is None else np.asarray(self.prior_of(i, t, myo[0]), dtype=np.float32)
        if self.augment:
            rng = self.rng(index)
            k_rot, flip = random_dihedral(rng, mag.shape)
            mag, myo, tissue = (dihedral(a, k_rot, flip) for a in (mag, myo, tissue))
            velocity = dihedral_velocity(velocity, k_rot, flip)
            velocity_true = dihedral_velocity(velocity_true, k_rot, flip)
            prior = None if prior is None else dihedral_velocity(prior, k_rot, flip)
        venc = venc_scale(entry.venc_cm_s, ndim=3)
        velocity = velocity / venc
        velocity_true = velocity_true / venc
        sample = {
            "magnitude": self.as_tensor(to_network_range(mag)),
            "velocity": self.as_tensor(velocity),
            "velocity_true": self.as_tensor(velocity_true),
            "has_velocity_true": torch.tensor(entry.has_velocity_true),
            "tissue": self.as_tensor(tissue),
            "myocardium": self.as_tensor(myo),
            "venc": torch.from_numpy(entry.venc_cm_s.copy()),
            "slice_index": i,
            "frame": t,
            "cycle_fraction": torch.tensor(t / n, dtype=torch.float32),
            "slice_position": SLICE_POSITIONS.index(entry.slice_position),
            "z_towards_apex": entry.z_towards_apex,
        }
        if prior is not None:
            sample["prior"] = self.as_tensor(prior / venc)
        return sample
