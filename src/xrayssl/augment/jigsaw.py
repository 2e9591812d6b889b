"""Jigsaw: cut the image into n x n tiles and shuffle them (a permutation per sample)."""

from __future__ import annotations

import torch

from xrayssl.augment.base import OPS, AugmentOp
from xrayssl.augment.params import IntRange, as_int_range, generator_device, integers, probability
from xrayssl.augment.params import Param as P


def shuffle_tiles(
    x: torch.Tensor, n: int, generator: torch.Generator | None
) -> torch.Tensor:
    """Shuffle the n x n tiles of every sample of ``x: (b, C, H, W)``; never the identity.

    When H or W is not a multiple of n, the last H % n rows and W % n columns stay in place.
    """
    b, c, height, width = x.shape
    tile_h, tile_w = height // n, width // n
    inner = x[:, :, : n * tile_h, : n * tile_w]
    # tiles: (b, C, n*n, tile_h, tile_w), row-major tile order
    tiles = (inner.reshape(b, c, n, tile_h, n, tile_w).permute(0, 1, 2, 4, 3, 5)
             .reshape(b, c, n * n, tile_h, tile_w))
    scores = torch.rand(b, n * n, generator=generator, device=generator_device(generator))
    order = scores.argsort(dim=1)  # (b, n*n) a random permutation per sample
    identity = torch.arange(n * n)
    unchanged = (order == identity).all(dim=1)
    order[unchanged] = identity.roll(1)  # a shuffle that moves nothing is no augmentation
    order = order.to(x.device)
    index = order.view(b, 1, n * n, 1, 1).expand(b, c, n * n, tile_h, tile_w)
    shuffled = tiles.gather(2, index)
    out = x.clone()
    out[:, :, : n * tile_h, : n * tile_w] = (
        shuffled.reshape(b, c, n, n, tile_h, tile_w).permute(0, 1, 2, 4, 3, 5)
        .reshape(b, c, n * tile_h, n * tile_w)
    )
    return out


@OPS.register()
class Jigsaw(AugmentOp):
    """Shuffle n x n tiles, n uniform in ``grid`` per sample (samples grouped by n)."""

    name = "jigsaw"
    params = (
        probability(0.5),
        P("grid", "int_range", (2, 4), "tiles per side", 2, 16),
    )

    def __init__(self, *, p: float = 0.5, grid: int | IntRange = (2, 4)) -> None:
        super().__init__(p=p)
        self.grid = as_int_range(grid)

    def transform(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        cells = integers(x.shape[0], self.grid, generator, torch.device("cpu"))  # (n,)
        if self.grid[0] == self.grid[1]:
            return shuffle_tiles(x, self.grid[0], generator)
        out = x.clone()
        for n in sorted(set(cells.tolist())):  # one batched shuffle per distinct grid size
            index = (cells == n).nonzero().squeeze(1).to(x.device)
            out[index] = shuffle_tiles(x[index], int(n), generator)
        return out
