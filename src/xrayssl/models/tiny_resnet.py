"""Narrow ResNets for CPU budgets: the demo on a 2-core laptop, quick smoke studies.

torchvision's ResNets start at 64 channels; at 64 px a laptop CPU then manages a few
training steps per second at best, too few for a study of a dozen trials to learn anything in
minutes. These keep the ResNet shape (BasicBlocks, four stages, global pooling) at a fraction
of the width, one block per stage:

- ``resnet_tiny``: 16-32-64-128 channels, about a tenth of ``resnet18``'s compute at the same
  input size;
- ``resnet_tiny_wide``: 32-64-128-256 channels, about four times ``resnet_tiny``'s compute, for
  budgets where the narrow one has stopped improving.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn
from torchvision.models.resnet import BasicBlock

from xrayssl.errors import XraySSLError
from xrayssl.models.encoder_registry import ENCODERS, Encoder

WIDTHS = (16, 32, 64, 128)
WIDE_WIDTHS = (32, 64, 128, 256)


def stage(in_ch: int, out_ch: int, stride: int) -> nn.Sequential:
    downsample = None
    if stride != 1 or in_ch != out_ch:
        downsample = nn.Sequential(
            nn.Conv2d(in_ch, out_ch, kernel_size=1, stride=stride, bias=False),
            nn.BatchNorm2d(out_ch),
        )
    return nn.Sequential(BasicBlock(in_ch, out_ch, stride=stride, downsample=downsample))


def build_narrow_resnet(name: str, widths: tuple[int, ...], image_size: int,
                        weights: Path | None) -> Encoder:
    if weights is not None:
        raise XraySSLError(f"{name} has no ImageNet weights; leave out the weights file")
    # A stride-2 3x3 stem: at 64 px the last stage still sees 4x4 positions for Grad-CAM.
    layers: list[nn.Module] = [
        nn.Conv2d(1, widths[0], kernel_size=3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(widths[0]),
        nn.ReLU(inplace=True),
    ]
    in_ch = widths[0]
    for i, width in enumerate(widths):
        layers.append(stage(in_ch, width, stride=1 if i == 0 else 2))
        in_ch = width
    body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
    last_block = layers[-1]
    return Encoder(body, widths[-1], last_block, {"name": name, "image_size": image_size})


@ENCODERS.register("resnet_tiny")
def build_resnet_tiny(image_size: int, weights: Path | None) -> Encoder:
    return build_narrow_resnet("resnet_tiny", WIDTHS, image_size, weights)


@ENCODERS.register("resnet_tiny_wide")
def build_resnet_tiny_wide(image_size: int, weights: Path | None) -> Encoder:
    return build_narrow_resnet("resnet_tiny_wide", WIDE_WIDTHS, image_size, weights)
