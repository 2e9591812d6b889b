"""Barlow Twins (Zbontar et al. 2021): make the views' cross-correlation the identity."""

from __future__ import annotations

import torch
from lightly.loss import BarlowTwinsLoss
from lightly.models.modules import BarlowTwinsProjectionHead
from torch import nn

from xrayssl.models.datamodule import PairViews
from xrayssl.models.encoders import Encoder
from xrayssl.models.methods.base import PairMethod, Schedule
from xrayssl.models.methods.registry import METHODS


@METHODS.register()
class BarlowTwins(PairMethod):
    name = "barlow"

    def __init__(
        self,
        encoder: Encoder,
        *,
        views: PairViews,
        schedule: Schedule,
        projection_dim: int = 2048,
        hidden_dim: int = 2048,
        lambda_param: float = 5e-3,
    ) -> None:
        super().__init__(encoder, views=views, schedule=schedule)
        self.head = BarlowTwinsProjectionHead(encoder.feature_dim, hidden_dim, projection_dim)
        self.criterion = BarlowTwinsLoss(lambda_param=lambda_param, gather_distributed=True)

    def trainable_modules(self) -> list[nn.Module]:
        return [self.encoder, self.head]

    def pair_loss(self, v1: torch.Tensor, v2: torch.Tensor) -> torch.Tensor:
        # Separate passes: the loss standardises each view's batch on its own.
        z1 = self.head(self.encoder(v1))  # (B, P)
        z2 = self.head(self.encoder(v2))
        return self.in_fp32(self.criterion, z1, z2)
