"""Paired tests between the trials of a study: each trial against its method's best trial and
against its method's baseline policy, Holm-corrected over the comparisons of a method."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from xrayssl.study.results import StudyResults

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


def compare(results: StudyResults, n_boot: int, seed: int) -> None:
    """Fill ``vs_best`` and ``vs_baseline`` of every trial with paired-bootstrap differences."""
    from xrayssl.evaluate.metrics import paired_bootstrap

    if results.labels is None or results.clusters is None:
        results.notes.append("no stored predictions: significance tests are left out")
        return
    best = results.best_per_method()
    for method in sorted({t.method for t in results.trials}):
        family: list[tuple[dict[str, float], float]] = []
        for trial in [t for t in results.trials if t.method == method]:
            references = (("vs_best", best.get(method)),
                          ("vs_baseline", results.baseline_of(method, trial.seed)))
            for slot, reference in references:
                if reference is None or reference is trial or trial.probs is None \
                        or reference.probs is None or reference.test_key != trial.test_key:
                    continue
                out = paired_bootstrap(results.labels, reference.probs, trial.probs,
                                       results.clusters, metric=results.metric,
                                       n_boot=n_boot, seed=seed)
                block = {"delta": out["delta"], "lo": out["lo"], "hi": out["hi"],
                         "p": out["p_value"]}
                setattr(trial, slot, block)
                family.append((block, out["p_value"]))
        for (block, _p), adjusted in zip(family, holm([p for _b, p in family]), strict=True):
            block["p_holm"] = adjusted


def significant(block: dict[str, float]) -> bool:
    return bool(block) and block.get("p_holm", 1.0) < ALPHA
