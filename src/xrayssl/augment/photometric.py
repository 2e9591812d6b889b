"""Intensity ops: blur, brightness/contrast, gamma, noise, sharpness, CLAHE.

Radiographs are single-channel, so SimCLR's colour jitter reduces to brightness, contrast and
gamma (the last mimics different exposure/windowing curves).
"""

from __future__ import annotations

import math

import kornia
import torch
from kornia.enhance.equalization import _equalize_clahe

from xrayssl.augment.base import OPS, AugmentOp
from xrayssl.augment.params import Param as P
from xrayssl.augment.params import Range, as_range, device_generator, probability, uniform


@OPS.register()
class GaussianBlur(AugmentOp):
    """Gaussian blur with sigma (pixels) uniform per sample; kornia's batched filter.
    ``kernel=0`` sizes the kernel to 3 sigma; an odd ``kernel`` fixes it (the seed study's
    torchvision ``GaussianBlur(3, sigma=(1, 2))`` is ``kernel=3,sigma=1-2``)."""

    name = "gaussian_blur"
    params = (
        probability(0.5),
        P("sigma", "float_range", (0.1, 2.0), "blur sigma in pixels", 0.01, 50.0),
        P("kernel", "int", 0, "kernel side in pixels, odd; 0 = wide enough for 3 sigma", 0, 101),
    )

    def __init__(
        self, *, p: float = 0.5, sigma: float | Range = (0.1, 2.0), kernel: int = 0
    ) -> None:
        super().__init__(p=p)
        if kernel != 0 and kernel % 2 == 0:
            raise ValueError(f"gaussian_blur kernel must be odd (or 0 for automatic), got {kernel}")
        self.sigma = as_range(sigma)
        self.kernel = int(kernel)

    def transform(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        n, _, height, width = x.shape
        sigma = uniform(n, self.sigma, generator, x.device)  # (n,)
        # One kernel size for the batch: the given one, else wide enough for the largest sigma
        # drawn (3 sigma); never wider than the image.
        radius = self.kernel // 2 if self.kernel else max(1, math.ceil(3.0 * self.sigma[1]))
        radius = min(radius, (min(height, width) - 1) // 2)
        size = 2 * radius + 1
        sigmas = sigma.unsqueeze(1).expand(n, 2).contiguous()  # (n, 2): (sigma_y, sigma_x)
        return kornia.filters.gaussian_blur2d(x, (size, size), sigmas, border_type="reflect")


@OPS.register()
class BrightnessContrast(AugmentOp):
    """Scale intensity by a factor in [1-brightness, 1+brightness], then stretch about the
    sample's mean by a factor in [1-contrast, 1+contrast]."""

    name = "brightness_contrast"
    params = (
        probability(0.8),
        P("brightness", "float", 0.2, "largest relative brightness change", 0.0, 1.0),
        P("contrast", "float", 0.2, "largest relative contrast change", 0.0, 1.0),
    )

    def __init__(self, *, p: float = 0.8, brightness: float = 0.2, contrast: float = 0.2) -> None:
        super().__init__(p=p)
        if brightness == 0.0 and contrast == 0.0:
            raise ValueError("brightness_contrast needs brightness or contrast above 0")
        self.brightness = float(brightness)
        self.contrast = float(contrast)

    def transform(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        n = x.shape[0]
        gain = uniform(n, (1 - self.brightness, 1 + self.brightness), generator, x.device)
        stretch = uniform(n, (1 - self.contrast, 1 + self.contrast), generator, x.device)
        gain, stretch = gain.view(n, 1, 1, 1), stretch.view(n, 1, 1, 1)
        bright = (x * gain).clamp(0.0, 1.0)
        mean = bright.mean(dim=(1, 2, 3), keepdim=True)  # (n, 1, 1, 1)
        return ((bright - mean) * stretch + mean).clamp(0.0, 1.0)


@OPS.register()
class Gamma(AugmentOp):
    """x ** gamma with gamma uniform per sample (< 1 brightens soft tissue, > 1 darkens)."""

    name = "gamma"
    params = (
        probability(0.5),
        P("gamma", "float_range", (0.7, 1.5), "exponent applied to intensities", 0.05, 10.0),
    )

    def __init__(self, *, p: float = 0.5, gamma: float | Range = (0.7, 1.5)) -> None:
        super().__init__(p=p)
        self.gamma = as_range(gamma)

    def transform(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        exponent = uniform(x.shape[0], self.gamma, generator, x.device).view(-1, 1, 1, 1)
        return x.clamp(0.0, 1.0).pow(exponent)


@OPS.register()
class GaussianNoise(AugmentOp):
    """Add zero-mean Gaussian noise with std uniform per sample (quantum/detector noise)."""

    name = "gaussian_noise"
    params = (
        probability(0.5),
        P("std", "float_range", (0.01, 0.05), "noise std on the [0, 1] scale", 0.0, 1.0),
    )

    def __init__(self, *, p: float = 0.5, std: float | Range = (0.01, 0.05)) -> None:
        super().__init__(p=p)
        self.std = as_range(std)
        if self.std[1] == 0.0:
            raise ValueError("gaussian_noise needs std above 0")

    def transform(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        std = uniform(x.shape[0], self.std, generator, x.device).view(-1, 1, 1, 1)
        noise = torch.randn(x.shape, generator=device_generator(generator, x.device),
                            device=x.device, dtype=x.dtype)
        return (x + std * noise).clamp(0.0, 1.0)


@OPS.register()
class Sharpness(AugmentOp):
    """kornia's sharpness: factor 0 smooths, 1 keeps, 2 doubles the edge contrast."""

    name = "sharpness"
    params = (
        probability(0.5),
        P("factor", "float_range", (0.5, 2.0), "sharpness factor (1 = unchanged)", 0.0, 10.0),
    )

    def __init__(self, *, p: float = 0.5, factor: float | Range = (0.5, 2.0)) -> None:
        super().__init__(p=p)
        self.factor = as_range(factor)
        if self.factor == (1.0, 1.0):
            raise ValueError("sharpness with factor=1 does nothing; give another factor")

    def transform(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        factor = uniform(x.shape[0], self.factor, generator, x.device)  # (n,)
        return kornia.enhance.sharpness(x.clamp(0.0, 1.0), factor)


@OPS.register()
class Clahe(AugmentOp):
    """Contrast-limited adaptive histogram equalisation with a clip limit uniform per sample.

    Runs batched in torch on the images' device through kornia's CLAHE core, which accepts one
    clip limit per image (the public ``kornia.enhance.equalize_clahe`` takes only one for the
    whole batch); kornia is pinned, and a test checks this path against the public function.
    """

    name = "clahe"
    params = (
        probability(0.5),
        P("clip", "float_range", (1.0, 4.0), "clip limit (OpenCV's clipLimit)", 0.1, 100.0),
        P("grid", "int", 8, "tiles per side", 2, 64),
    )

    def __init__(self, *, p: float = 0.5, clip: float | Range = (1.0, 4.0), grid: int = 8) -> None:
        super().__init__(p=p)
        self.clip = as_range(clip)
        self.grid = int(grid)

    def transform(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        clip = uniform(x.shape[0], self.clip, generator, x.device)  # (n,)
        return _equalize_clahe(x.clamp(0.0, 1.0), clip, (self.grid, self.grid), False)
