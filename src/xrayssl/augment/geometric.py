"""Geometric ops: flip, rotation, random resized crop. Each is one affine map per sample."""

from __future__ import annotations

import math

import torch

from xrayssl.augment.base import OPS, GeometricOp, rotation_theta
from xrayssl.augment.params import Param as P
from xrayssl.augment.params import Range, as_range, coin, probability, uniform


@OPS.register()
class Flip(GeometricOp):
    """Mirror the image. Horizontal by default; ``vertical=true`` adds vertical flips (each
    chosen sample then flips along one of the enabled axes, picked at random)."""

    name = "flip"
    params = (
        probability(0.5),
        P("horizontal", "bool", True, "allow left-right flips"),
        P("vertical", "bool", False, "allow up-down flips (radiographs are rarely upside down)"),
    )

    def __init__(self, *, p: float = 0.5, horizontal: bool = True, vertical: bool = False) -> None:
        super().__init__(p=p)
        if not (horizontal or vertical):
            raise ValueError("flip needs horizontal or vertical enabled")
        self.horizontal = horizontal
        self.vertical = vertical

    def theta(
        self, n: int, height: int, width: int, generator: torch.Generator | None,
        device: torch.device,
    ) -> torch.Tensor:
        if self.horizontal and self.vertical:
            along_x = coin(n, 0.5, generator, device)  # (n,) which axis each sample flips
        else:
            along_x = torch.full((n,), self.horizontal, device=device)
        sign_x = 1.0 - 2.0 * along_x.float()  # -1 flips x
        theta = torch.zeros(n, 3, 3, device=device)
        theta[:, 0, 0] = sign_x
        theta[:, 1, 1] = -sign_x  # the other axis flips when x does not
        theta[:, 2, 2] = 1.0
        return theta


@OPS.register()
class Rotation(GeometricOp):
    """Rotate about the centre by an angle uniform in [-deg, deg]; corners fill with 0."""

    name = "rotation"
    params = (
        probability(0.5),
        P("deg", "float", 15.0, "largest rotation in degrees (uniform in +-deg)", 0.0, 180.0),
    )

    def __init__(self, *, p: float = 0.5, deg: float = 15.0) -> None:
        super().__init__(p=p)
        self.deg = float(deg)

    def theta(
        self, n: int, height: int, width: int, generator: torch.Generator | None,
        device: torch.device,
    ) -> torch.Tensor:
        angle = uniform(n, (-self.deg, self.deg), generator, device)  # (n,) degrees
        return rotation_theta(angle, height, width)


@OPS.register()
class RandomResizedCrop(GeometricOp):
    """Crop a box of random area fraction ``scale`` and aspect ``ratio``, resized back to the
    input size (SimCLR's crop; the default keeps at least 30% of a radiograph)."""

    name = "random_resized_crop"
    params = (
        probability(1.0),
        P("scale", "float_range", (0.3, 1.0), "area fraction of the crop", 0.01, 1.0),
        P("ratio", "float_range", (0.75, 4.0 / 3.0), "aspect ratio w/h of the crop", 0.1, 10.0),
    )

    def __init__(
        self, *, p: float = 1.0, scale: float | Range = (0.3, 1.0),
        ratio: float | Range = (0.75, 4.0 / 3.0),
    ) -> None:
        super().__init__(p=p)
        self.scale = as_range(scale)
        self.ratio = as_range(ratio)

    def theta(
        self, n: int, height: int, width: int, generator: torch.Generator | None,
        device: torch.device,
    ) -> torch.Tensor:
        area = uniform(n, self.scale, generator, device)  # (n,) fraction of H*W
        log_ratio = uniform(n, (math.log(self.ratio[0]), math.log(self.ratio[1])),
                            generator, device)
        ratio = torch.exp(log_ratio) * (height / width)  # w/h in pixels -> in normalised units
        half_w = torch.sqrt(area * ratio).clamp(max=1.0)  # box half-size, normalised (1 = full)
        half_h = torch.sqrt(area / ratio).clamp(max=1.0)
        centre_x = (uniform(n, (-1.0, 1.0), generator, device)) * (1.0 - half_w)
        centre_y = (uniform(n, (-1.0, 1.0), generator, device)) * (1.0 - half_h)
        theta = torch.zeros(n, 3, 3, device=device)
        theta[:, 0, 0] = half_w
        theta[:, 0, 2] = centre_x
        theta[:, 1, 1] = half_h
        theta[:, 1, 2] = centre_y
        theta[:, 2, 2] = 1.0
        return theta

