"""Momentum (EMA) targets shared by BYOL and MoCo: a frozen copy moved towards the online net."""

from __future__ import annotations

import copy

from lightly.models.utils import deactivate_requires_grad, update_momentum
from lightly.utils.scheduler import cosine_schedule
from torch import nn


def frozen_copy(module: nn.Module) -> nn.Module:
    """A copy that takes no gradient: it only ever changes through :func:`move_target`."""
    target = copy.deepcopy(module)
    deactivate_requires_grad(target)
    return target


def momentum_at(step: int, total_steps: int, start: float, end: float = 1.0) -> float:
    """BYOL's schedule: the EMA momentum rises from ``start`` to ``end`` along a cosine."""
    return float(cosine_schedule(step, total_steps, start, end))


def move_target(online: nn.Module, target: nn.Module, momentum: float) -> None:
    """``target <- momentum * target + (1 - momentum) * online``, parameter by parameter."""
    update_momentum(online, target, m=momentum)
