"""BYOL (Grill et al. 2020): predict a slowly moving target's projection of the other view."""

from __future__ import annotations

import torch
from lightly.loss import NegativeCosineSimilarity
from lightly.models.modules import BYOLPredictionHead, BYOLProjectionHead
from torch import nn

from xrayssl.models.datamodule import PairViews
from xrayssl.models.encoders import Encoder
from xrayssl.models.methods.base import PairMethod, Schedule
from xrayssl.models.methods.momentum import frozen_copy, momentum_at, move_target
from xrayssl.models.methods.registry import METHODS


@METHODS.register()
class BYOL(PairMethod):
    name = "byol"

    def __init__(
        self,
        encoder: Encoder,
        *,
        views: PairViews,
        schedule: Schedule,
        projection_dim: int = 256,
        hidden_dim: int = 1024,
        momentum_start: float = 0.99,
        momentum_end: float = 1.0,
    ) -> None:
        super().__init__(encoder, views=views, schedule=schedule)
        self.projector = BYOLProjectionHead(encoder.feature_dim, hidden_dim, projection_dim)
        self.predictor = BYOLPredictionHead(projection_dim, hidden_dim, projection_dim)
        self.target_encoder = frozen_copy(encoder)
        self.target_projector = frozen_copy(self.projector)
        self.momentum_start = momentum_start
        self.momentum_end = momentum_end
        self.criterion = NegativeCosineSimilarity()

    def trainable_modules(self) -> list[nn.Module]:
        return [self.encoder, self.projector, self.predictor]

    def update_target(self, step: int) -> float:
        """Move the target towards the online network; returns the momentum used."""
        m = momentum_at(step, self.total_steps, self.momentum_start, self.momentum_end)
        move_target(self.encoder, self.target_encoder, m)
        move_target(self.projector, self.target_projector, m)
        return m

    def pair_loss(self, v1: torch.Tensor, v2: torch.Tensor) -> torch.Tensor:
        self.update_target(self.global_step)
        both = torch.cat([v1, v2])  # (2B, 1, H, W)
        p1, p2 = self.predictor(self.projector(self.encoder(both))).chunk(2)  # (B, P) each
        with torch.no_grad():
            t1, t2 = self.target_projector(self.target_encoder(both)).chunk(2)
        # Symmetric: each view's prediction chases the target's projection of the other view.
        return 0.5 * (self.in_fp32(self.criterion, p1, t2) + self.in_fp32(self.criterion, p2, t1))
