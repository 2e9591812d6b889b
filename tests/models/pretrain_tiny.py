"""A tiny registered encoder so pretraining tests run in seconds on two shared CPU cores.

The methods, data path, checkpoints and DDP are what these tests check; a ResNet would only
make them slow. Importing this module registers ``test_tiny`` (BatchNorm) and
``test_tiny_gn`` (GroupNorm: batch statistics do not depend on how a batch is split).
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from xrayssl.models.encoders import ENCODERS, Encoder

TINY = "test_tiny"
TINY_GN = "test_tiny_gn"


def tiny_encoder(image_size: int, group_norm: bool, name: str) -> Encoder:
    def norm(channels: int) -> nn.Module:
        return nn.GroupNorm(4, channels) if group_norm else nn.BatchNorm2d(channels)

    last = nn.Sequential(nn.Conv2d(16, 32, 3, stride=2, padding=1), norm(32), nn.ReLU())
    body = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), norm(8), nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1), norm(16), nn.ReLU(),
        last,
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    )
    return Encoder(body, 32, last, {"name": name, "image_size": image_size})


def register() -> None:
    for name, group_norm in ((TINY, False), (TINY_GN, True)):
        if name not in ENCODERS:

            def build(size: int, weights: Path | None, gn: bool = group_norm,
                      name: str = name) -> Encoder:
                return tiny_encoder(size, gn, name)

            ENCODERS.register(name)(build)


register()
