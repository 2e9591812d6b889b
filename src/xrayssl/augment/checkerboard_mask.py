"""Checkerboard mask: hide one colour of a randomly sized, randomly shifted checkerboard.

A masked-image-modelling style occlusion that, unlike one erased box, leaves evidence of every
region visible in one view or the other: the two colours of the board are complementary.
This op was called ``chessboard`` before that name went to the seed study's grid distortion
(:mod:`xrayssl.augment.chessboard`).
"""

from __future__ import annotations

import torch

from xrayssl.augment.base import OPS, AugmentOp
from xrayssl.augment.erasing import FILLS, fill_hidden, fill_param, pixel_grid
from xrayssl.augment.params import IntRange, as_int_range, coin, integers, probability, uniform
from xrayssl.augment.params import Param as P


@OPS.register()
class CheckerboardMask(AugmentOp):
    """Split the image into an n x n grid (n uniform in ``grid``), shift the grid by a random
    offset below one cell, and hide one colour of the checkerboard (colour picked per sample).
    An occlusion; not the seed study's chess board (that is ``chessboard``)."""

    name = "checkerboard_mask"
    params = (
        probability(0.5),
        P("grid", "int_range", (4, 8), "cells per side", 2, 64),
        fill_param(),
    )

    def __init__(
        self, *, p: float = 0.5, grid: int | IntRange = (4, 8), fill: str = "zero"
    ) -> None:
        super().__init__(p=p)
        if fill not in FILLS:
            raise ValueError(f"fill must be one of {FILLS}, got {fill!r}")
        self.grid = as_int_range(grid)
        self.fill = fill

    def hidden_mask(
        self, n: int, height: int, width: int, generator: torch.Generator | None,
        device: torch.device,
    ) -> torch.Tensor:
        """(n, 1, H, W) bool: the pixels of the hidden colour."""
        view = (n, 1, 1, 1)
        cells = integers(n, self.grid, generator, device).float().view(view)  # (n,1,1,1)
        cell_h, cell_w = height / cells, width / cells  # pixels per cell
        offset_y = uniform(n, (0.0, 1.0), generator, device).view(view) * cell_h
        offset_x = uniform(n, (0.0, 1.0), generator, device).view(view) * cell_w
        colour = coin(n, 0.5, generator, device).long().view(view)
        ys, xs = pixel_grid(height, width, device)
        row = torch.floor((ys + offset_y) / cell_h).long()  # (n, 1, H, 1)
        col = torch.floor((xs + offset_x) / cell_w).long()  # (n, 1, 1, W)
        return (row + col + colour) % 2 == 0

    def transform(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        n, _, height, width = x.shape
        hidden = self.hidden_mask(n, height, width, generator, x.device)
        return fill_hidden(x, hidden, self.fill, generator)
