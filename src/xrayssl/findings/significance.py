"""Holm's correction and the significance level every comparison of a study uses."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ALPHA = 0.05


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (same order as given)."""
    order = np.argsort(p_values)
    adjusted = np.empty(len(p_values))
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted.tolist()


def significant(block: dict[str, float]) -> bool:
    return bool(block) and block.get("p_holm", 1.0) < ALPHA
