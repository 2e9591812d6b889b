"""Chess board: the seed study's grid distortion, batched on the images' device.

The study this toolkit grew from (``RandomGridDistortion(grid_size=20, max_distortion=5)`` on
256 px radiographs) cuts the image into whole 20 x 20 px cells and rolls the content of each
cell (a wrapped shift, as ``np.roll``) along x and then along y by ``int(uniform(-5, 5))``
pixels, drawn independently per cell. ``int`` truncates towards zero, so a shift is one of
-4..4 and 0 is twice as likely as any other value. Pixels past the last whole cell (the
16 px strip at the right and bottom of a 256 px image) are left as they are.

Pixel values never change, only where they sit inside their own cell: every cell keeps its
histogram. Cell size and largest shift are given in pixels of a 256 px image and scale with
the image's shorter side, so the distortion covers the same share of the anatomy at any size.
"""

from __future__ import annotations

import math

import torch

from xrayssl.augment.base import OPS, AugmentOp
from xrayssl.augment.params import Param as P
from xrayssl.augment.params import generator_device, probability

REFERENCE_SIDE = 256  # the seed study's image side: ``grid`` and ``shift`` are in its pixels


@OPS.register()
class Chessboard(AugmentOp):
    """The seed study's chess board: roll the content of every whole grid cell by its own
    random x and y shift (wrapped inside the cell), a grid distortion, not an occlusion.
    ``grid`` and ``shift`` are pixels at a 256 px side and scale with the image; the
    checkerboard occlusion is ``checkerboard_mask``."""

    name = "chessboard"
    params = (
        probability(0.5),
        P("grid", "int", 20, "cell side in pixels of a 256 px image", 2, REFERENCE_SIDE),
        P("shift", "float", 5.0,
          "shifts are int(uniform(-shift, +shift)) pixels of a 256 px image", 1.0,
          REFERENCE_SIDE),
    )

    def __init__(self, *, p: float = 0.5, grid: int = 20, shift: float = 5.0) -> None:
        super().__init__(p=p)
        self.grid = int(grid)
        self.shift = float(shift)

    def cell_pixels(self, side: int) -> int:
        """Cell side at an image whose shorter side is ``side`` (rounded half up, at least 1)."""
        return max(1, math.floor(self.grid * side / REFERENCE_SIDE + 0.5))

    def cell_shifts(
        self, n: int, rows: int, cols: int, side: int, generator: torch.Generator | None,
        device: torch.device,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(n, rows, cols) int64 shifts along y and along x, ``int(uniform(-m, m))`` with
        ``m`` the largest shift scaled to ``side``: truncation towards zero, as the seed's
        ``int()``, so 0 collects the draws of (-1, 1) and is twice as likely as any other."""
        largest = self.shift * side / REFERENCE_SIDE
        draw = torch.rand(2, n, rows, cols, generator=generator,
                          device=generator_device(generator))  # [0, 1)
        shifts = ((draw * 2.0 - 1.0) * largest).trunc().long().to(device)  # (2, n, rows, cols)
        return shifts[0], shifts[1]

    def transform(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        n, c, height, width = x.shape
        side = min(height, width)
        cell = self.cell_pixels(side)
        rows, cols = height // cell, width // cell  # whole cells only
        if rows == 0 or cols == 0:
            return x
        shift_y, shift_x = self.cell_shifts(n, rows, cols, side, generator, x.device)
        inner_h, inner_w = rows * cell, cols * cell
        ys = torch.arange(inner_h, device=x.device)  # (Hc,) pixel rows inside whole cells
        xs = torch.arange(inner_w, device=x.device)  # (Wc,)
        cell_y, cell_x = ys // cell, xs // cell
        # Each pixel's cell shift: (n, Hc, Wc).
        dy = shift_y[:, cell_y][:, :, cell_x]
        dx = shift_x[:, cell_y][:, :, cell_x]
        # np.roll by s: out[i] = in[(i - s) mod cell], inside the pixel's own cell.
        src_y = cell_y.view(1, -1, 1) * cell + torch.remainder(ys.view(1, -1, 1) % cell - dy, cell)
        src_x = cell_x.view(1, 1, -1) * cell + torch.remainder(xs.view(1, 1, -1) % cell - dx, cell)
        flat = (src_y * width + src_x).view(n, 1, inner_h * inner_w).expand(n, c, -1)
        moved = x.flatten(2).gather(2, flat).view(n, c, inner_h, inner_w)
        out = x.clone()
        out[:, :, :inner_h, :inner_w] = moved
        return out
