"""What ``collect`` derives from a finished study, as plain data (``StudyResults``).

Every derived value (paired tests, per-op effects, the halving rungs, the policies ranked over
their seeds, the answer, the Grad-CAM summary) is computed once by :func:`..collect.collect`
and stored here; the tables and the report only read it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xrayssl.config.study import ObjectiveSettings, ReportSettings
from xrayssl.errors import XraySSLError
from xrayssl.evaluate.uncertainty import Difference
from xrayssl.findings.answer_model import Answer
from xrayssl.findings.effects import OpEffect, PairwiseCell
from xrayssl.findings.gradcam import GradcamSummary
from xrayssl.findings.run_result import RunResult
from xrayssl.findings.rung_results import MethodRungTable
from xrayssl.runs.folder import StudyFolder
from xrayssl.study.space import IDENTITY, compose


@dataclass
class PolicyRank:
    """One policy of one method over its seeds, on val."""

    policy: str
    seeds: int
    value: float  # mean over seeds (and label subsets)
    lo: float  # two-level bootstrap 95% CI; NaN where not pooled
    hi: float
    vs_best: Difference | None = None  # None for the best, or where not pooled
    p_holm: float | None = None  # selection-aware gap test, Holm-adjusted over the method
    p_best: float | None = None
    in_top_set: bool | None = None  # None where not pooled


@dataclass
class MethodRanking:
    method: str
    rows: list[PolicyRank]  # best first
    pooled: bool  # False: recorded means, no uncertainty

    @property
    def best(self) -> PolicyRank:
        return self.rows[0]


def _ranked(runs: list[RunResult]) -> list[RunResult]:
    """Best objective first; runs without a value last, in folder order."""
    return sorted(runs, key=lambda t: -t.value if math.isfinite(t.value) else math.inf)


@dataclass
class StudyResults:
    study_dir: Path
    name: str
    objective: ObjectiveSettings
    report: ReportSettings
    trials: list[RunResult]
    floors: list[RunResult]  # the raw, random-init and supervised reference runs
    labels: np.ndarray | None  # (N_val,) shared by every trial's predictions
    clusters: np.ndarray | None  # (N_val,) patients, the bootstrap's resampling unit
    base: str
    ops: list[str]
    config: dict[str, Any] | None = None  # study.yaml as read
    config_text: str | None = None
    notes: list[str] = field(default_factory=list)
    op_effects: list[OpEffect] = field(default_factory=list)
    pairwise: list[PairwiseCell] = field(default_factory=list)
    gradcam: GradcamSummary | None = None
    answer: Answer | None = None  # the selected runs on test (``findings.answer``)
    # Successive halving: every rung's values per method (``trials`` holds the last rung).
    rungs: list[MethodRungTable] = field(default_factory=list)
    # Each method's policies over their seeds on val, best first (``findings.policy_ranking``).
    policy_rankings: list[MethodRanking] = field(default_factory=list)

    @property
    def metric(self) -> str:
        return self.objective.metric

    @property
    def fraction(self) -> float:
        return self.objective.fraction

    @property
    def level(self) -> str:
        return self.objective.level

    @property
    def runs(self) -> list[RunResult]:
        return self.trials + self.floors

    def ranked(self) -> list[RunResult]:
        return _ranked(self.trials)

    def ranked_runs(self) -> list[RunResult]:
        """Trials and floors together, best first."""
        return _ranked(self.runs)

    def best_per_method(self) -> dict[str, RunResult]:
        best: dict[str, RunResult] = {}
        for trial in self.ranked():
            if math.isfinite(trial.value):
                best.setdefault(trial.method, trial)
        return best

    def by_policy(self) -> list[RunResult]:
        """Every trial, one row per pretraining seed, ordered by method, policy and seed (not
        by value: a single seed is no ranking; ``policy_ranking`` ranks policies)."""
        return sorted(self.trials, key=lambda t: (t.method, t.policy, t.seed is None,
                                                  t.seed or 0, t.folder))

    def label_efficiency(self) -> list[RunResult]:
        """Runs measured at two or more label fractions: the best ``report.efficiency_trials``
        trials of each method, and every baseline, best first."""
        per_method = self.report.efficiency_trials
        taken: dict[str, int] = {}
        shown = []
        for run in self.ranked_runs():
            if len(run.by_fraction) < 2:
                continue
            if not run.is_floor:
                if taken.get(run.method, 0) >= per_method:
                    continue
                taken[run.method] = taken.get(run.method, 0) + 1
            shown.append(run)
        return shown

    def base_of(self, method: str, seed: int | None) -> RunResult | None:
        for spec in (compose(self.base), IDENTITY):
            for trial in self.trials:
                if (trial.method, trial.seed, trial.view1) == (method, seed, spec) and (
                    trial.view2 in (None, spec)
                ):
                    return trial
        return None

    def run(self, folder: str) -> RunResult:
        for run in self.runs:
            if run.folder == folder:
                return run
        raise XraySSLError(f"{self.study_dir} has no run folder {folder!r}")

    def cache_path(self) -> Path | None:
        """The prepared cache the study used: from its runs' metrics, else its config."""
        for run in self.runs:
            if run.cache and Path(run.cache).is_dir():
                return Path(run.cache)
        data = (self.config or {}).get("data") or {}
        for key in ("cache", "cache_dir"):
            if data.get(key) and Path(data[key]).is_dir():
                return Path(data[key])
        default = StudyFolder(self.study_dir).cache
        return default if default.is_dir() else None
