"""Small stand-ins for the encoder/probe contracts: models whose behaviour is known exactly."""

from __future__ import annotations

import torch
from torch import nn


class Gate(nn.Module):
    """Zeroes activations outside a fixed region: the model can only 'see' there."""

    def __init__(self, mask: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mask", mask)  # (1, 1, H, W)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.mask


class RegionEncoder(nn.Module):
    """Bright-blob detector (4 channels) gated to one region, mean-pooled to (B, 4) features."""

    def __init__(self, size: int, rows: slice, cols: slice) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        with torch.no_grad():
            self.conv.weight.fill_(1.0 / 9.0)
            self.conv.bias.fill_(-0.5)  # responds only where the local mean exceeds 0.5
        mask = torch.zeros(1, 1, size, size)
        mask[..., rows, cols] = 1.0
        self.gradcam_layer = Gate(mask)
        self.feature_dim = 4
        self.spec = {"name": "region", "image_size": size}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        activations = self.gradcam_layer(torch.relu(self.conv(x)))  # (B, 4, H, W)
        return activations.mean(dim=(2, 3))  # (B, 4)


def sum_probe(features: int = 4) -> nn.Linear:
    linear = nn.Linear(features, 1)
    with torch.no_grad():
        linear.weight.fill_(1.0)
        linear.bias.fill_(-0.01)
    return linear


def two_square_image(size: int = 32) -> torch.Tensor:
    """Dark noise-free background with bright squares at top-right and bottom-left."""
    image = torch.full((1, 1, size, size), 0.1)
    image[..., 4:10, 22:28] = 1.0  # top-right
    image[..., 22:28, 4:10] = 1.0  # bottom-left
    return image
