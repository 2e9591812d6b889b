"""The ``Encoder`` every backbone is wrapped in, and the ENCODERS registry they are built from.

Kept apart from the builders (:mod:`xrayssl.models.encoders`, :mod:`.tiny_resnet`) so that each
builder module can register itself without importing the others.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from xrayssl.registry import Registry

# Grey-level statistics of ImageNet (the means of the RGB channel statistics). Matching them
# keeps summed-RGB stem weights in the regime they were trained in.
GRAY_MEAN = 0.449
GRAY_STD = 0.226


class Encoder(nn.Module):
    """A backbone that maps normalised images to a flat feature vector."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self,
        body: nn.Module,
        feature_dim: int,
        gradcam_layer: nn.Module,
        spec: dict[str, Any],
        mean: float = GRAY_MEAN,
        std: float = GRAY_STD,
    ) -> None:
        super().__init__()
        self.body = body
        self.feature_dim = feature_dim
        self.gradcam_layer = gradcam_layer
        self.spec = dict(spec)
        # Constants, not learnt: kept out of the state_dict so the spec alone defines them.
        self.register_buffer("mean", torch.tensor(mean), persistent=False)
        self.register_buffer("std", torch.tensor(std), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 1:
            raise ValueError(f"encoder expects (B, 1, H, W) images, got {tuple(x.shape)}")
        x = (x - self.mean) / self.std
        features: torch.Tensor = self.body(x)  # (B, D)
        return features.flatten(1)


EncoderBuilder = Callable[[int, Path | None], Encoder]
ENCODERS: Registry[EncoderBuilder] = Registry("encoder")
