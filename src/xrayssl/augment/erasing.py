"""Occlusion: random erasing of one box, and the fills shared with the checkerboard mask."""

from __future__ import annotations

import torch

from xrayssl.augment.base import OPS, AugmentOp
from xrayssl.augment.params import Param as P
from xrayssl.augment.params import Range, as_range, device_generator, probability, uniform

FILLS = ("zero", "mean", "noise")


def fill_param(default: str = "zero") -> P:
    return P("fill", "choice", default,
             "what replaces the hidden pixels: 0, the image mean, or noise with the image's "
             "mean and std", choices=FILLS)


def fill_hidden(
    x: torch.Tensor, hidden: torch.Tensor, fill: str, generator: torch.Generator | None
) -> torch.Tensor:
    """Replace the pixels where ``hidden: (n, 1, H, W)`` bool is True in ``x: (n, C, H, W)``."""
    if fill == "zero":
        return x.masked_fill(hidden, 0.0)
    mean = x.mean(dim=(-2, -1), keepdim=True)  # (n, C, 1, 1)
    if fill == "mean":
        return torch.where(hidden, mean, x)
    std = x.std(dim=(-2, -1), keepdim=True)
    noise = torch.randn(x.shape, generator=device_generator(generator, x.device),
                        device=x.device, dtype=x.dtype)
    return torch.where(hidden, (mean + std * noise).clamp(0.0, 1.0), x)


def pixel_grid(height: int, width: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates shaped to broadcast against (n, 1, 1, 1): (1,1,H,1), (1,1,1,W)."""
    ys = torch.arange(height, device=device, dtype=torch.float32).add_(0.5).view(1, 1, height, 1)
    xs = torch.arange(width, device=device, dtype=torch.float32).add_(0.5).view(1, 1, 1, width)
    return ys, xs


@OPS.register()
class RandomErasing(AugmentOp):
    """Hide one box of random area fraction and aspect per sample (Zhong et al. 2020)."""

    name = "random_erasing"
    params = (
        probability(0.5),
        P("scale", "float_range", (0.02, 0.33), "area fraction of the box", 0.001, 1.0),
        P("ratio", "float_range", (0.3, 3.3), "aspect ratio w/h of the box", 0.05, 20.0),
        fill_param(),
    )

    def __init__(
        self, *, p: float = 0.5, scale: float | Range = (0.02, 0.33),
        ratio: float | Range = (0.3, 3.3), fill: str = "zero",
    ) -> None:
        super().__init__(p=p)
        if fill not in FILLS:
            raise ValueError(f"fill must be one of {FILLS}, got {fill!r}")
        self.scale = as_range(scale)
        self.ratio = as_range(ratio)
        self.fill = fill

    def transform(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        n, _, height, width = x.shape
        view = (n, 1, 1, 1)
        area = uniform(n, self.scale, generator, x.device) * (height * width)  # (n,) pixels
        log_lo, log_hi = torch.tensor(self.ratio).log().tolist()
        ratio = uniform(n, (log_lo, log_hi), generator, x.device).exp()
        box_h = (area / ratio).sqrt().clamp(1.0, height).view(view)
        box_w = (area * ratio).sqrt().clamp(1.0, width).view(view)
        top = uniform(n, (0.0, 1.0), generator, x.device).view(view) * (height - box_h)
        left = uniform(n, (0.0, 1.0), generator, x.device).view(view) * (width - box_w)
        ys, xs = pixel_grid(height, width, x.device)
        hidden = (ys >= top) & (ys < top + box_h) & (xs >= left) & (xs < left + box_w)
        return fill_hidden(x, hidden, self.fill, generator)  # hidden: (n, 1, H, W)
