"""SimSiam (Chen & He 2021): BYOL without the momentum target; a stop-gradient is enough."""

from __future__ import annotations

import torch
from lightly.loss import NegativeCosineSimilarity
from lightly.models.modules import SimSiamPredictionHead, SimSiamProjectionHead
from torch import nn

from xrayssl.models.datamodule import PairViews
from xrayssl.models.encoders import Encoder
from xrayssl.models.methods.base import PairMethod, Schedule
from xrayssl.models.methods.registry import METHODS


@METHODS.register()
class SimSiam(PairMethod):
    name = "simsiam"

    def __init__(
        self,
        encoder: Encoder,
        *,
        views: PairViews,
        schedule: Schedule,
        projection_dim: int = 512,
        prediction_hidden_dim: int = 128,
    ) -> None:
        super().__init__(encoder, views=views, schedule=schedule)
        dim = encoder.feature_dim
        self.projector = SimSiamProjectionHead(dim, dim, projection_dim)
        self.predictor = SimSiamPredictionHead(
            projection_dim, prediction_hidden_dim, projection_dim
        )
        self.criterion = NegativeCosineSimilarity()

    def trainable_modules(self) -> list[nn.Module]:
        return [self.encoder, self.projector, self.predictor]

    def pair_loss(self, v1: torch.Tensor, v2: torch.Tensor) -> torch.Tensor:
        z1, z2 = self.projector(self.encoder(torch.cat([v1, v2]))).chunk(2)  # (B, P) each
        p1, p2 = self.predictor(z1), self.predictor(z2)
        return 0.5 * (
            self.in_fp32(self.criterion, p1, z2.detach())
            + self.in_fp32(self.criterion, p2, z1.detach())
        )
