"""The op base classes and the registry every op is added to.

An op works on a whole batch ``x: (B, C, H, W)`` float in [0, 1]. ``forward`` decides per
sample whether the op applies (probability ``p``) and calls ``transform`` on the chosen
samples only, with parameters drawn per sample inside ``transform``.

Geometric ops (crop, flip, rotation) only describe an affine map per sample; the policy
composes consecutive geometric ops into one matrix and resamples once (one interpolation
instead of one per op: faster and sharper).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from xrayssl.augment.params import Param, Value, coin, op_text
from xrayssl.registry import Registry


class AugmentOp(nn.Module):
    """One named augmentation with probability ``p`` and per-sample random strength."""

    name: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()

    def __init__(self, *, p: float) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: p must be in [0, 1], got {p}")
        self.p = float(p)

    def transform(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Transform every sample of ``x: (n, C, H, W)``; never modify ``x`` in place."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.p == 0.0 or x.shape[0] == 0:
            return x
        if self.p == 1.0:
            return self.transform(x, generator)
        chosen = coin(x.shape[0], self.p, generator, torch.device("cpu"))  # (B,) bool
        if not bool(chosen.any()):
            return x
        if bool(chosen.all()):
            return self.transform(x, generator)
        index = chosen.nonzero().squeeze(1).to(x.device)
        out = x.clone()
        out[index] = self.transform(x[index], generator)
        return out

    def values(self) -> dict[str, Value]:
        """The current value of every declared parameter (read from same-named attributes)."""
        return {param.name: getattr(self, param.name) for param in self.params}

    @property
    def spec(self) -> str:
        """Canonical text: the op name plus every parameter that differs from its default."""
        changed = [
            (param.name, value)
            for param, value in zip(self.params, self.values().values(), strict=True)
            if not same_value(value, param.default)
        ]
        return op_text(self.name, changed)

    def extra_repr(self) -> str:
        return self.spec


def same_value(a: Value, b: Value) -> bool:
    if isinstance(a, tuple) and not isinstance(b, tuple):
        return a == (b, b)
    if isinstance(b, tuple) and not isinstance(a, tuple):
        return (a, a) == b
    return a == b


class GeometricOp(AugmentOp):
    """An op that is one affine map per sample, resampled with bilinear interpolation.

    ``theta`` maps output coordinates to input coordinates in the normalised [-1, 1] frame of
    ``F.affine_grid`` (align_corners=False); pixels mapped from outside the image become 0.
    """

    def theta(
        self, n: int, height: int, width: int, generator: torch.Generator | None,
        device: torch.device,
    ) -> torch.Tensor:
        """(n, 3, 3) output->input maps, one per sample."""
        raise NotImplementedError

    def transform(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        n, _, height, width = x.shape
        return warp(x, self.theta(n, height, width, generator, x.device))

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return apply_geometric([self], x, generator)

    def chosen_theta(
        self, n: int, height: int, width: int, generator: torch.Generator | None,
        device: torch.device,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(n, 3, 3) this op's map where it applies (probability p), the identity elsewhere;
        and (n,) bool on the CPU: which samples it applies to."""
        eye = torch.eye(3, device=device).expand(n, 3, 3)
        if self.p == 0.0 or n == 0:
            return eye, torch.zeros(n, dtype=torch.bool)
        theta = self.theta(n, height, width, generator, device)
        if self.p == 1.0:
            return theta, torch.ones(n, dtype=torch.bool)
        chosen = coin(n, self.p, generator, torch.device("cpu"))
        return torch.where(chosen.to(device).view(n, 1, 1), theta, eye), chosen


def apply_geometric(
    ops: Sequence[GeometricOp], x: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    """Apply consecutive geometric ops as one composed affine map and one resampling.

    Op k maps its output coordinates to its input through theta_k, so the chain
    x -> op_1 -> ... -> op_m samples x at theta_1 @ theta_2 @ ... @ theta_m. Samples no op
    chose are returned untouched (bit-exact), not resampled through an identity map.
    """
    n, _, height, width = x.shape
    theta = torch.eye(3, device=x.device).expand(n, 3, 3)  # (n, 3, 3)
    moved = torch.zeros(n, dtype=torch.bool)  # (n,) CPU: decided without a device sync
    for op in ops:
        op_theta, chosen = op.chosen_theta(n, height, width, generator, x.device)
        theta = theta @ op_theta
        moved |= chosen
    if not bool(moved.any()):
        return x
    if bool(moved.all()):
        return warp(x, theta)
    index = moved.nonzero().squeeze(1).to(x.device)
    out = x.clone()
    out[index] = warp(x[index], theta[index])
    return out


def warp(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Resample ``x: (n, C, H, W)`` at ``theta: (n, 3, 3)`` output->input normalised maps."""
    grid = affine_grid(theta, x.shape[0], x.shape[2], x.shape[3], x.dtype)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def affine_grid(
    theta: torch.Tensor, n: int, height: int, width: int, dtype: torch.dtype
) -> torch.Tensor:
    """(n, H, W, 2) sampling grid, equal to ``F.affine_grid(theta[:, :2], align_corners=False)``.

    An affine map is separable into a per-column and a per-row term, so each grid coordinate
    is one broadcast add of (n, 1, W) and (n, H, 1): on the CPU several times faster than
    ``F.affine_grid``'s batched matmul with an inner dimension of 3.
    """
    device = theta.device
    xs = (torch.arange(width, device=device, dtype=dtype) * 2 + 1) / width - 1  # pixel centres
    ys = (torch.arange(height, device=device, dtype=dtype) * 2 + 1) / height - 1
    theta = theta.to(dtype)
    grid = torch.empty(n, height, width, 2, device=device, dtype=dtype)
    for k in range(2):  # k = 0: input x, k = 1: input y
        per_column = theta[:, k, 0, None] * xs  # (n, W)
        per_row = theta[:, k, 1, None] * ys + theta[:, k, 2, None]  # (n, H)
        torch.add(per_column.view(n, 1, width), per_row.view(n, height, 1), out=grid[..., k])
    return grid


def rotation_theta(angle_deg: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(n, 3, 3) normalised map rotating about the image centre by ``angle_deg: (n,)``.

    The rotation acts in pixel units, so a non-square image is not sheared:
    theta = S^-1 R S with S = diag(W/2, H/2) taking normalised to pixel offsets.
    """
    rad = angle_deg * (math.pi / 180.0)
    cos, sin = torch.cos(rad), torch.sin(rad)
    aspect = width / height
    theta = torch.zeros(angle_deg.shape[0], 3, 3, device=angle_deg.device)
    theta[:, 0, 0] = cos
    theta[:, 0, 1] = -sin / aspect
    theta[:, 1, 0] = sin * aspect
    theta[:, 1, 1] = cos
    theta[:, 2, 2] = 1.0
    return theta


OPS: Registry[type[AugmentOp]] = Registry("augmentation op")
