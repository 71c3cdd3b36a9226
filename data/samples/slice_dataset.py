"""Base of the training datasets: an index of the slices of one split, with lazily opened HDF5 files.

Every subject file of the split is validated once, up front (so a bad file fails before training starts,
with the reader's message), and each slice's magnitude scale and crop box are computed then. Samples
read single frames from files that stay open in each worker process, instead of reopening a file per
sample. Randomness (augmentation, key-frame choice) is drawn from a generator seeded by
(seed, epoch, index), so a sample is the same whichever worker builds it and a resumed run sees the
same data as an uninterrupted one.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from data.mvm_io import read_error, read_subject
from data.selection import select_subjects
from data.transforms import crop_box
from util.errors import DataError
from util.intensity import magnitude_scale


@dataclass(frozen=True)
class SliceEntry:
    """Everything a sample needs about one slice, without its arrays."""

    path: Path
    subject_id: str
    slice_name: str
    num_frames: int
    venc_cm_s: np.ndarray
    mag_scale: float
    box: tuple[int, int, int, int]  # row0, col0, height, width of the (possibly cropped) window
    has_velocity_true: bool
    slice_position: str
    z_towards_apex: int


class SliceDataset(Dataset):
    """Index of the slices of one split. Subclasses define ``__len__`` and ``__getitem__``."""

    require_velocity = True

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        if is_train:
            parser.add_argument(
                "--augment",
                action="store_true",
                help="random quarter turns and mirrors of the image; the in-plane velocity turns with it",
            )
        return parser

    @classmethod
    def from_options(cls, opt: argparse.Namespace, split: str) -> SliceDataset:
        """The dataset of one split, built from the resolved options (``data.create_dataset``)."""
        return cls(opt, split)

    def __init__(self, opt: argparse.Namespace, split: str) -> None:
        self.opt = opt
        self.split = split
        self.seed = int(opt.seed)
        # In shared memory so that persistent data-loader workers see the epoch the trainer sets.
        self._epoch = torch.zeros((), dtype=torch.int64).share_memory_()
        self.augment = bool(getattr(opt, "augment", False)) and split == "train"
        self.slices = self._index(opt, split)
        self._files: dict[Path, h5py.File] = {}
        self._pid = os.getpid()

    def _index(self, opt: argparse.Namespace, split: str) -> list[SliceEntry]:
        entries = []
        crop = opt.crop_size
        for path in select_subjects(opt.dataroot, split, max_subjects=opt.max_subjects):
            subject = read_subject(path, require_velocity=self.require_velocity)
            for name, s in subject.slices.items():
                where = f"{path}: slice {name!r}"
                if s.attrs.get("mask_source") == "none":
                    # Importers write empty masks for scanner data; training on them would teach nothing.
                    raise DataError(
                        f"{where}: has no myocardium masks (mask_source 'none', e.g. imported from DICOM); "
                        "add segmentations before training on it"
                    )
                h, w = s.shape
                if crop:
                    r0, c0 = crop_box(s.myocardium, crop, where)
                    box = (r0, c0, crop, crop)
                else:
                    box = (0, 0, h, w)
                entries.append(
                    SliceEntry(
                        path=path,
                        subject_id=subject.subject_id,
                        slice_name=name,
                        num_frames=s.num_frames,
                        venc_cm_s=np.asarray(s.venc_cm_s, dtype=np.float32),
                        mag_scale=magnitude_scale(s.magnitude),
                        box=box,
                        has_velocity_true=s.velocity_true is not None,
                        slice_position=s.slice_position,
                        z_towards_apex=int(s.z_towards_apex),
                    )
                )
        sizes = {(e.box[2], e.box[3]) for e in entries}
        if len(sizes) > 1:
            raise DataError(
                f"{opt.dataroot}: slices have different image sizes {sorted(sizes)}; "
                "use --crop_size to train on a common size"
            )
        return entries

    @property
    def image_size(self) -> tuple[int, int]:
        return self.slices[0].box[2], self.slices[0].box[3]

    # ------------------------------------------------------------------------------- reading

    @property
    def epoch(self) -> int:
        return int(self._epoch)

    def set_epoch(self, epoch: int) -> None:
        """Change the random draws for a new epoch (called by the trainer before each epoch)."""
        self._epoch.fill_(int(epoch))

    def rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, int(index)])

    def _file(self, path: Path) -> h5py.File:
        # h5py handles must not cross a fork: a worker process opens its own.
        if os.getpid() != self._pid:
            self._files, self._pid = {}, os.getpid()
        f = self._files.get(path)
        if f is None:
            try:
                f = h5py.File(path, "r")
            except OSError as exc:
                raise DataError(f"{path}: cannot be opened any more ({exc})") from exc
            self._files[path] = f
        return f

    def read_frames(self, entry: SliceEntry, field: str, frames: list[int] | np.ndarray) -> np.ndarray:
        """Frames ``frames`` (any order, repeats allowed) of dataset ``field``, cropped to the entry's box."""
        frames = np.asarray(frames, dtype=np.int64)
        unique, inverse = np.unique(frames, return_inverse=True)
        r0, c0, h, w = entry.box
        ds = self._file(entry.path)[entry.slice_name][field]
        # One read per frame: h5py's point selection over a list of frames is ~100x slower than
        # reading the frames (one chunk each) separately.
        try:
            data = np.stack([ds[int(t), ..., r0 : r0 + h, c0 : c0 + w] for t in unique])
        except OSError as exc:  # a failed checksum: the file changed since the dataset was indexed
            raise read_error(f"{entry.path}: slice {entry.slice_name!r}", ds, exc) from exc
        return data[inverse]

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_files"] = {}
        return state

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files = {}

    @staticmethod
    def as_tensor(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
