"""One run folder of a study, reduced to what its findings show (``RunResult``).

Every number is read on val, the split that selects (``SELECT``); a run made before val existed
is read on test, and ``collect`` says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xrayssl.config.study import ObjectiveSettings
from xrayssl.runs.folder import RunRecord
from xrayssl.runs.metrics_file import (
    HELD_OUT,
    Estimate,
    Level,
    RunKind,
    RunMetrics,
    SplitScores,
)
from xrayssl.study.space import PolicyPair

SELECT = "val"  # the split every ranking, difference and selection is read on


def estimate_value(estimate: Estimate | None) -> tuple[float, float, float]:
    """(value, lo, hi), NaN where absent."""
    if estimate is None or estimate.value is None:
        return math.nan, math.nan, math.nan

    def num(x: float | None) -> float:
        return math.nan if x is None else float(x)

    return num(estimate.value), num(estimate.lo), num(estimate.hi)


@dataclass
class RunResult:
    """One run folder of the study, reduced to what the results show."""

    folder: str  # path relative to the study folder
    path: Path
    kind: RunKind
    method: str  # "baseline" for a baseline run
    view1: str  # view 1 spec, or the baseline's kind
    view2: str | None
    seed: int | None
    value: float  # the objective (NaN where undefined)
    lo: float
    hi: float
    other: str  # the second metric shown (kappa, or AUROC when the objective is kappa)
    other_value: float
    other_lo: float
    other_hi: float
    image: dict[str, Estimate]  # every image-level metric at the objective fraction
    study: dict[str, Estimate]  # study-level (MURA-style) metrics, when measured
    by_part: dict[str, Estimate]  # the objective per body part (value None: undefined there)
    by_fraction: dict[float, Estimate]  # the objective per label fraction
    probs: np.ndarray | None  # (S, N_val) at the objective fraction
    cache: str | None = None  # the prepared cache the run was evaluated on
    test_key: tuple[int, ...] = ()
    rung: int | None = None  # successive halving: the trial's rung (0 first), else None
    epochs: int | None = None  # pretraining epochs of the run
    thresholds: list[float] | None = None  # (S,) each fit's val-chosen decision threshold
    vs_best: dict[str, float] = field(default_factory=dict)
    vs_base: dict[str, float] = field(default_factory=dict)

    @property
    def policy(self) -> str:
        return PolicyPair(self.view1, self.view2).label

    @property
    def is_floor(self) -> bool:
        """A floor's run (raw pixels, random init, supervised): ``metrics.json`` records its
        kind as ``baseline``."""
        return self.kind == "baseline"


def selection_split(metrics: RunMetrics) -> str:
    """``val``; ``test`` only for a run made before val existed (the caller says so)."""
    has_val = any(SELECT in result.scores for result in metrics.fractions.values())
    return SELECT if has_val or SELECT in metrics.splits else HELD_OUT


def run_result(record: RunRecord, objective: ObjectiveSettings) -> RunResult | None:
    """A run's numbers at the objective's fraction and level, on the split that selects;
    None when it has none there."""
    metrics, run = record.metrics, record.metrics.run
    chosen = selection_split(metrics)
    scores = metrics.scores(objective.fraction, chosen)
    if scores is None:
        return None
    level = objective.level
    other = "auroc" if objective.metric == "kappa" else "kappa"

    def estimates(at: Level) -> dict[str, Estimate]:
        group = scores.overall.level(at)
        return {m: e for m, e in (group.metrics if group else {}).items() if e.value is not None}

    value = estimate_value(scores.estimate(objective.metric, level))
    other_value = estimate_value(scores.estimate(other, level))
    # Every body part of the val set, undefined ones too (one class there: no AUROC).
    by_part = {part: scores.estimate(objective.metric, level, part) or Estimate(value=None)
               for part in scores.by_body_part}
    by_fraction = {}
    for result in metrics.fractions.values():
        split = result.scores.get(chosen)
        estimate = split.estimate(objective.metric, level) if split else None
        if estimate is not None:
            by_fraction[result.fraction] = estimate
    held_out = metrics.splits.get(chosen)
    probs = None
    if level == "image" and scores.predictions is not None:
        probs = np.asarray(scores.predictions, dtype=np.float64)
    baseline = run.kind == "baseline"
    view1 = run.policy if run.policy is not None else (run.baseline if baseline else None)
    return RunResult(
        folder=record.name, path=record.folder, kind=run.kind,
        method=run.method or ("baseline" if baseline else "?"),
        view1=str(view1 if view1 is not None else "?"), view2=run.policy_b, seed=run.seed,
        value=value[0], lo=value[1], hi=value[2],
        other=other, other_value=other_value[0], other_lo=other_value[1],
        other_hi=other_value[2],
        image=estimates("image"), study=estimates("study"), by_part=by_part,
        by_fraction=dict(sorted(by_fraction.items())), probs=probs, cache=metrics.data.cache,
        test_key=tuple(held_out.indices or ()) if held_out is not None else (),
        rung=run.rung, epochs=run.epochs,
        thresholds=fit_thresholds(scores),
    )


def fit_thresholds(scores: SplitScores) -> list[float] | None:
    """(S,) the decision threshold of each prediction set, as the run recorded it."""
    image = scores.overall.image
    cut = image.threshold if image is not None else None
    if cut is None or scores.predictions is None:
        return None
    return list(cut) if isinstance(cut, list) else [float(cut)] * len(scores.predictions)
