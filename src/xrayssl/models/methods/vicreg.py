"""VICReg (Bardes et al. 2022): invariance, plus variance and covariance terms against collapse."""

from __future__ import annotations

import torch
from lightly.loss import VICRegLoss
from lightly.models.modules.heads import VICRegProjectionHead
from torch import nn

from xrayssl.models.datamodule import PairViews
from xrayssl.models.encoders import Encoder
from xrayssl.models.methods.base import PairMethod, Schedule
from xrayssl.models.methods.registry import METHODS


@METHODS.register()
class VICReg(PairMethod):
    name = "vicreg"

    def __init__(
        self,
        encoder: Encoder,
        *,
        views: PairViews,
        schedule: Schedule,
        projection_dim: int = 2048,
        hidden_dim: int = 2048,
    ) -> None:
        super().__init__(encoder, views=views, schedule=schedule)
        self.head = VICRegProjectionHead(
            input_dim=encoder.feature_dim, hidden_dim=hidden_dim, output_dim=projection_dim,
            num_layers=2,
        )
        self.criterion = VICRegLoss(gather_distributed=True)

    def trainable_modules(self) -> list[nn.Module]:
        return [self.encoder, self.head]

    def pair_loss(self, v1: torch.Tensor, v2: torch.Tensor) -> torch.Tensor:
        z1, z2 = self.head(self.encoder(torch.cat([v1, v2]))).chunk(2)  # (B, P) each
        return self.in_fp32(self.criterion, z1, z2)
