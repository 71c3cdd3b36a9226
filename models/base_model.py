"""The model contract shared by both stages.

A model owns its networks and losses; the trainer (util/trainer.py) owns optimisers, gradient scaling,
schedules and checkpoints. The contract is deliberately thin:

    set_input(batch)            move a batch to the device and unpack it
    forward()                   compute the outputs from the current input
    optimize_parameters(step)   forward, then for each optimiser group compute its losses and call
                                ``step(group, loss)``, which the trainer implements (backward + update)
    current_losses()            the last losses, as detached tensors (no host sync)
    current_visuals()           image tensors [B, 1, H, W] in [-1, 1] for the logs
    validation_step(batch)      per-batch metric sums for the validation loop
    note_validation(metrics)    the epoch's validation averages, for what a model keeps with its weights

Networks are plain ``nn.Module`` attributes named in ``network_names``; the trainer may replace each
with a compiled and/or DDP-wrapped version through ``wrap_networks``. ``network(name)`` always returns
the bare module, which is what checkpoints store.
"""

from __future__ import annotations

import argparse
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, ClassVar

import torch
from torch import nn

from util.device import autocast

StepFn = Callable[[str, torch.Tensor], None]

#: options a model adds that only weigh or start training (loss weights, initialisation), not the networks
TRAINING_ONLY_PREFIXES = ("lambda_", "init_")
TRAINING_ONLY_OPTIONS = frozenset({"myo_dilation", "gan_mode", "l1_target"})


class BaseModel(ABC):
    """Base class of the trainable stages. Subclasses fill in the networks, losses and metrics."""

    #: dataset used when --dataset_mode is not given
    default_dataset: str | None = None
    #: default Adam learning rate and beta1 when --lr / --beta1 are not given
    default_lr: float = 1e-3
    default_beta1: float = 0.9
    #: optimiser groups in update order, e.g. ("D", "G") for a GAN
    optimizer_order: tuple[str, ...] = ("G",)
    #: the network each optimiser group updates
    optimizer_networks: ClassVar[dict[str, str]] = {"G": "netG", "D": "netD"}
    #: validation metric that selects the ``best`` checkpoint, and whether higher is better
    val_metric: str = "loss"
    val_metric_higher_is_better: bool = False
    #: validation metric names of older runs -> today's, so that their checkpoints and loss logs resume
    former_metric_names: ClassVar[dict[str, str]] = {}

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        return parser

    @classmethod
    def option_defaults(cls) -> dict[str, Any]:
        """The defaults of every option the model adds when training: its parser is their one home.

        A model rebuilt from options saved by an older run takes these for the options added since.
        """
        parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
        cls.modify_commandline_options(parser, is_train=True)
        return vars(parser.parse_args([]))

    @classmethod
    def network_options(cls) -> tuple[str, ...]:
        """The options that shape the networks and what they are fed (architecture, conditioning, temporal
        window, prior, composite scheme): what a checkpoint's weights need, and what ``--init_weights`` and
        ``--continue_train`` take from the checkpoint's saved options. Loss weights and the
        initialisation are the run's own choice."""
        return tuple(
            name
            for name in cls.option_defaults()
            if not name.startswith(TRAINING_ONLY_PREFIXES) and name not in TRAINING_ONLY_OPTIONS
        )

    def __init__(self, opt: argparse.Namespace, device: torch.device | None = None) -> None:
        self.opt = opt
        self.device = device if device is not None else torch.device("cpu")
        self.network_names: list[str] = []
        self._bare: dict[str, nn.Module] = {}
        self._local: dict[str, nn.Module] = {}
        self._losses: dict[str, torch.Tensor] = {}
        self.precision = opt.precision

    # ------------------------------------------------------------------------------------- networks

    def add_network(self, name: str, net: nn.Module) -> nn.Module:
        """Register a network: moved to the device, channels_last if asked, kept under ``name``."""
        net = net.to(self.device)
        if self.channels_last:
            net = net.to(memory_format=torch.channels_last)
        self.network_names.append(name)
        self._bare[name] = net
        self._local[name] = net
        setattr(self, name, net)
        return net

    @property
    def channels_last(self) -> bool:
        """``--channels_last`` on a GPU. On CPU the format makes norm layers several times slower."""
        return bool(self.opt.channels_last) and self.device.type == "cuda"

    def network(self, name: str) -> nn.Module:
        """The bare network (not compiled, not DDP-wrapped): what checkpoints hold."""
        return self._bare[name]

    def local_network(self, name: str) -> nn.Module:
        """The network as this process runs it (compiled if asked) but without DDP.

        A GAN's generator loss goes through the discriminator while the discriminator is frozen; going
        through its DDP wrapper there would make DDP wait for gradients that never come.
        """
        return self._local[name]

    def wrap_networks(
        self,
        compile_fn: Callable[[nn.Module], nn.Module],
        ddp_fn: Callable[[nn.Module], nn.Module],
    ) -> None:
        """Compile, then DDP-wrap every network (in that order); the bare modules stay for checkpoints."""
        for name in self.network_names:
            local = compile_fn(self._bare[name])
            self._local[name] = local
            setattr(self, name, ddp_fn(local))

    def optimizer_parameters(self, group: str) -> Iterator[nn.Parameter]:
        """Parameters updated by optimiser ``group``: those of its network in ``optimizer_networks``."""
        return self._bare[self.optimizer_networks[group]].parameters()

    def train(self, mode: bool = True) -> None:
        for name in self.network_names:
            getattr(self, name).train(mode)

    def eval(self) -> None:
        self.train(False)

    def autocast(self) -> AbstractContextManager:
        """Mixed-precision context for forward passes and losses (``--precision``)."""
        return autocast(self.precision, self.device)

    def to_device(self, x: torch.Tensor) -> torch.Tensor:
        """Move an image batch to the device (asynchronously from pinned memory), channels_last if 4-D."""
        x = x.to(self.device, non_blocking=True)
        if x.dim() == 4 and self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    # ------------------------------------------------------------------------------------- contract

    @abstractmethod
    def set_input(self, batch: dict[str, Any]) -> None:
        """Move a batch to the device and unpack it."""

    @abstractmethod
    def forward(self) -> None:
        """Compute the outputs from the current input."""

    @abstractmethod
    def compute_losses(self, group: str) -> dict[str, torch.Tensor]:
        """Loss terms of optimiser ``group``; the key ``total`` is what is back-propagated."""

    def optimize_parameters(self, step: StepFn) -> None:
        """One training iteration: forward, then each group's losses and update, in ``optimizer_order``."""
        with self.autocast():
            self.forward()
        for group in self.optimizer_order:
            with self.autocast():
                losses = self.compute_losses(group)
            step(group, losses["total"])
            self._losses.update({f"{group}_{k}": v.detach() for k, v in losses.items()})

    def current_losses(self) -> dict[str, torch.Tensor]:
        return dict(self._losses)

    def current_visuals(self) -> dict[str, torch.Tensor]:
        return {}

    @abstractmethod
    def validation_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Per-batch *sums* of validation metrics plus ``count``, so they can be all-reduced then divided."""

    # ------------------------------------------------------------------------------ extra state

    def note_validation(self, metrics: dict[str, float]) -> None:
        """The validation metrics of the epoch just validated (averaged per sample), for a model that keeps
        some of them with its weights (nothing by default)."""
        return None

    def extra_state(self) -> dict[str, Any]:
        """State beyond network weights that a checkpoint must keep (e.g. the background noise model)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore what ``extra_state`` returned (nothing to restore by default)."""
        return None

    def start_from_state(self, state: dict[str, Any], source: str, resumed: bool = False) -> None:
        """Before ``prepare_training``: the ``extra_state`` of the checkpoint a fine-tuned (or, ``resumed``, a
        continued) run starts from (``source`` names it), for what its training split may be unable to
        estimate (nothing by default)."""
        return None

    def prepare_training(self, train_dataset: Any, val_dataset: Any | None = None) -> None:
        """Hook run once before training, on every rank (e.g. estimate statistics from the train set, or give
        both datasets what their samples need from the model)."""
        return None
