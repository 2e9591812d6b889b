"""The one base class of every SSL method: views on the device, optimiser, schedule, logging.

A method subclasses :class:`PairMethod`, builds its heads and loss in ``__init__`` and
implements ``pair_loss(v1, v2) -> loss``. Everything else (turning the uint8 batch into two
augmented views on the training device, AdamW or LARS with warmup + cosine, channels_last,
fp32 losses under mixed precision) lives here once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import pytorch_lightning as pl
import torch
from lightly.models.utils import get_weight_decay_parameters
from lightly.utils.lars import LARS
from torch import nn

from xrayssl.models.datamodule import PairBatch, PairViews, step_seed
from xrayssl.models.encoders import Encoder


@dataclass(frozen=True)
class Schedule:
    """Optimiser and learning-rate schedule of one run."""

    lr: float = 1e-3
    weight_decay: float = 1e-4
    optimizer: Literal["adamw", "lars"] = "adamw"
    warmup_epochs: float = 2.0
    max_epochs: int = 100
    seed: int = 0


def warmup_cosine(step: int, warmup_steps: int, total_steps: int) -> float:
    """Learning-rate factor: linear warmup from 0, then cosine decay to 0 at ``total_steps``."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


class PairMethod(pl.LightningModule):
    """Encoder + two augmented views + a pair loss. Subclasses implement ``pair_loss``."""

    name: ClassVar[str] = ""  # the METHODS key (``@METHODS.register()`` reads it)

    def __init__(self, encoder: Encoder, *, views: PairViews, schedule: Schedule) -> None:
        super().__init__()
        self.encoder = encoder
        self.views = views
        self.schedule = schedule
        # Set by the trainer; a standalone module (tests) can set it by hand.
        self.total_steps = 1
        self.channels_last = False  # set in on_fit_start: True where the NHWC layout is used
        self.compile_modules = False  # set by the caller: torch.compile the trainable modules

    # --- what a method defines ------------------------------------------------------------

    def pair_loss(self, v1: torch.Tensor, v2: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def trainable_modules(self) -> list[nn.Module]:
        """Modules whose parameters the optimiser updates (momentum copies are left out)."""
        return [self.encoder]

    # --- shared machinery -----------------------------------------------------------------

    def on_fit_start(self) -> None:
        self.total_steps = max(1, int(self.trainer.estimated_stepping_batches))
        # channels_last on the CPU too: oneDNN's convolutions run NHWC natively (measured
        # 1.3x-1.7x per SimCLR step of resnet_tiny at 64 px, bf16 and fp32). Not for DDP on
        # CPU processes (gloo): there the losses drift from the single-process run from the
        # second step on (test_models_ddp), so those runs keep the default layout.
        self.channels_last = self.device.type == "cuda" or self.trainer.world_size == 1
        if self.channels_last:
            self.to(memory_format=torch.channels_last)
        if self.compile_modules:
            self.compile_in_place()

    def compile_in_place(self) -> None:
        """torch.compile the trainable modules in place (nn.Module.compile), so parameter names,
        checkpoints and the exported encoder are the same as an eager run's."""
        for module in self.trainable_modules():
            module.compile()

    def make_views(self, batch: PairBatch) -> tuple[torch.Tensor, torch.Tensor]:
        device = batch["images"].device
        rank = self.trainer.global_rank if self._trainer is not None else 0
        generator = torch.Generator(device=device)
        generator.manual_seed(step_seed(self.schedule.seed, self.global_step, rank))
        # Augmentation in float32 whatever the training precision: ops such as blur or
        # gamma lose too much in half precision.
        with torch.autocast(device_type=device.type, enabled=False):
            v1, v2 = self.views(batch, generator)
        if self.channels_last:
            v1 = v1.contiguous(memory_format=torch.channels_last)
            v2 = v2.contiguous(memory_format=torch.channels_last)
        return v1, v2

    def training_step(self, batch: PairBatch, batch_idx: int) -> torch.Tensor:
        v1, v2 = self.make_views(batch)
        loss = self.pair_loss(v1, v2)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, sync_dist=True)
        return loss

    @staticmethod
    def in_fp32(loss_fn: Callable[..., torch.Tensor], *tensors: torch.Tensor) -> torch.Tensor:
        """Evaluate a loss in float32 even under autocast (similarities need the precision)."""
        device_type = tensors[0].device.type
        with torch.autocast(device_type=device_type, enabled=False):
            return loss_fn(*(t.float() for t in tensors))

    def configure_optimizers(self) -> Any:
        decay, no_decay = get_weight_decay_parameters(self.trainable_modules())
        groups = [
            {"params": [p for p in decay if p.requires_grad],
             "weight_decay": self.schedule.weight_decay},
            {"params": [p for p in no_decay if p.requires_grad], "weight_decay": 0.0},
        ]
        optimizer: torch.optim.Optimizer
        if self.schedule.optimizer == "lars":
            # Parameters without weight decay are also left out of LARS' layer-wise scaling.
            optimizer = LARS(groups, lr=self.schedule.lr, momentum=0.9)
        else:
            optimizer = torch.optim.AdamW(groups, lr=self.schedule.lr)
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = round(total * self.schedule.warmup_epochs / self.schedule.max_epochs)
        warmup = min(warmup, total - 1)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: warmup_cosine(step, warmup, total)
        )
        schedule = {"scheduler": scheduler, "interval": "step"}
        return {"optimizer": optimizer, "lr_scheduler": schedule}
