"""What a study's trials say about its ops: the per-op effect and the pairwise (view 1 op x view 2
op) grid. (The policy selected per body part is the answer's, over its seeds.)"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from xrayssl.findings.run_result import RunResult
from xrayssl.study.space import PolicyPair, compose, op_names, pairwise_cell

ALL_METHODS = "all"


@dataclass(frozen=True)
class OpEffect:
    method: str  # ALL_METHODS: pooled over every method
    op: str
    mean_change: float  # mean change of the objective when the op is added
    n_pairs: int

    @property
    def pooled(self) -> bool:
        return self.method == ALL_METHODS


@dataclass(frozen=True)
class PairwiseCell:
    method: str
    view1_op: str
    view2_op: str
    value: float  # mean objective over seeds


def one_view(trial: RunResult) -> bool:
    """Both views get the same policy: no second policy, or the same one twice."""
    return trial.view2 in (None, trial.view1)


def op_changes(
    values: dict[tuple[str, int | None, frozenset[str]], float],
) -> dict[tuple[str, str], list[float]]:
    """(method, op) -> objective changes from adding ``op`` to an otherwise equal policy.

    ``values`` maps (method, seed, set of ops) to the objective of that one-view trial.
    """
    changes: dict[tuple[str, str], list[float]] = defaultdict(list)
    for (method, seed, ops), value in values.items():
        for op in ops:
            without = values.get((method, seed, ops - {op}))
            if without is not None:
                changes[(method, op)].append(value - without)
    return changes


def op_effects(trials: Sequence[RunResult]) -> list[OpEffect]:
    """Mean change of the objective when an op is added to an otherwise equal one-view policy,
    per method, then over all methods."""
    values: dict[tuple[str, int | None, frozenset[str]], float] = {}
    for trial in trials:
        ops = op_names(trial.view1)
        if trial.is_floor or not one_view(trial) or ops is None or not math.isfinite(trial.value):
            continue
        values[(trial.method, trial.seed, ops)] = trial.value
    changes = op_changes(values)
    rows = [OpEffect(method, op, float(np.mean(diffs)), len(diffs))
            for (method, op), diffs in sorted(changes.items())]
    for op in sorted({op for _m, op in changes}):
        diffs = [d for (_m, o), ds in changes.items() if o == op for d in ds]
        rows.append(OpEffect(ALL_METHODS, op, float(np.mean(diffs)), len(diffs)))
    return rows


def pairwise_grid(trials: Sequence[RunResult], ops: Sequence[str], base: str) -> list[PairwiseCell]:
    """View-1 op x view-2 op cells of the two-view trials. An asymmetric grid holds each pair of
    ops once (upper triangle): swapping the views is the same experiment for a symmetric loss,
    so the cell is mirrored. The composed mode (both ops on view 1, view 2 the base alone)
    holds both orders itself and is not mirrored."""
    if not ops:
        return []
    cells: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for trial in trials:
        if trial.is_floor or trial.view2 is None or not math.isfinite(trial.value):
            continue
        cell = pairwise_cell(PolicyPair(trial.view1, trial.view2), ops, base)
        if cell is None:
            continue
        cells[(trial.method, *cell)].append(trial.value)
        if cell[0] != cell[1] and trial.view2 != compose(base):
            cells[(trial.method, cell[1], cell[0])].append(trial.value)
    return [PairwiseCell(m, a, b, float(np.mean(v))) for (m, a, b), v in sorted(cells.items())]
