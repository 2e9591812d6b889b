"""SimCLR (Chen et al. 2020): pull two views of an image together, push all others apart."""

from __future__ import annotations

import torch
from lightly.loss import NTXentLoss
from lightly.models.modules import SimCLRProjectionHead

from xrayssl.models.datamodule import PairViews
from xrayssl.models.encoders import Encoder
from xrayssl.models.methods.base import PairMethod, Schedule
from xrayssl.models.methods.registry import METHODS


@METHODS.register()
class SimCLR(PairMethod):
    name = "simclr"

    def __init__(
        self,
        encoder: Encoder,
        *,
        views: PairViews,
        schedule: Schedule,
        temperature: float = 0.1,
        projection_dim: int = 128,
        hidden_dim: int = 0,  # 0 = the encoder's feature size, as in the paper
        head_batch_norm: bool = True,
    ) -> None:
        super().__init__(encoder, views=views, schedule=schedule)
        hidden = hidden_dim or encoder.feature_dim
        self.head = SimCLRProjectionHead(
            encoder.feature_dim, hidden, projection_dim, batch_norm=head_batch_norm
        )
        # Negatives are gathered from every device, so the loss sees the global batch.
        self.criterion = NTXentLoss(temperature=temperature, gather_distributed=True)

    def trainable_modules(self) -> list[torch.nn.Module]:
        return [self.encoder, self.head]

    def pair_loss(self, v1: torch.Tensor, v2: torch.Tensor) -> torch.Tensor:
        z = self.head(self.encoder(torch.cat([v1, v2])))  # (2B, P): one pass, shared BN stats
        z1, z2 = z.chunk(2)
        return self.in_fp32(self.criterion, z1, z2)
