"""MoCo v2 (Chen et al. 2020): contrast a query with its momentum key and a queue of old keys."""

from __future__ import annotations

from typing import Any

import torch
from lightly.loss import NTXentLoss
from lightly.models.modules import MoCoProjectionHead
from torch import nn

from xrayssl.models.datamodule import PairViews
from xrayssl.models.encoders import Encoder
from xrayssl.models.methods.base import PairMethod, Schedule
from xrayssl.models.methods.momentum import frozen_copy, momentum_at, move_target
from xrayssl.models.methods.registry import METHODS


@METHODS.register()
class MoCo(PairMethod):
    name = "moco"

    def __init__(
        self,
        encoder: Encoder,
        *,
        views: PairViews,
        schedule: Schedule,
        temperature: float = 0.2,
        projection_dim: int = 128,
        memory_bank_size: int = 4096,
        momentum_start: float = 0.99,
        momentum_end: float = 1.0,
    ) -> None:
        super().__init__(encoder, views=views, schedule=schedule)
        dim = encoder.feature_dim
        self.head = MoCoProjectionHead(dim, dim, projection_dim)
        self.key_encoder = frozen_copy(encoder)
        self.key_head = frozen_copy(self.head)
        self.momentum_start = momentum_start
        self.momentum_end = momentum_end
        # The queue of past keys (lightly keeps it out of the state_dict; see the hooks below).
        self.criterion = NTXentLoss(
            temperature=temperature,
            memory_bank_size=(memory_bank_size, projection_dim),
            gather_distributed=True,
        )

    def trainable_modules(self) -> list[nn.Module]:
        return [self.encoder, self.head]

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # A resumed run must contrast against the same queue the killed run had built.
        bank = self.criterion.memory_bank
        checkpoint["moco_queue"] = {"bank": bank.bank.detach().cpu(),
                                    "pointer": bank.bank_ptr.detach().cpu()}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        queue = checkpoint.get("moco_queue")
        if queue is not None:
            bank = self.criterion.memory_bank
            bank.bank.copy_(queue["bank"])
            bank.bank_ptr.copy_(queue["pointer"])

    def pair_loss(self, v1: torch.Tensor, v2: torch.Tensor) -> torch.Tensor:
        m = momentum_at(self.global_step, self.total_steps, self.momentum_start, self.momentum_end)
        move_target(self.encoder, self.key_encoder, m)
        move_target(self.head, self.key_head, m)
        query = self.head(self.encoder(v1))  # (B, P)
        with torch.no_grad():
            key = self.key_head(self.key_encoder(v2))  # (B, P)
        return self.in_fp32(self.criterion, query, key)
