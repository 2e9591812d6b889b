"""Study results, always rebuilt from the run folders (never from the Optuna database).

``collect(study_dir)`` reads every run folder (trials at depth 1, ``baselines/<kind>`` at
depth 2) through ``xrayssl.runs`` and derives everything a reader of the study wants into one
typed ``StudyResults``: the runs, paired tests, per-op effects, the pairwise grid, label
efficiency, the answer (the policy selected per method and body part over its seeds, whose val
ranking ``policy_ranking`` shows) and the Grad-CAM localization summary. Both
``xrayssl study results`` (tables in ``runs/<study>/results/``, see ``results_tables``) and the
HTML report render that object; neither derives anything of its own.

Every number of the ranking is read on val, the split that selects (``SELECT``); the test
split is kept for the selected policies and the floors. Significance: a paired cluster
bootstrap (patients resampled, both trials' predictions on the same val images) of the
difference, with Holm's correction over the comparisons of a method (``comparisons``).
The baseline of a method is its trial with the base policy alone (the
crop-only policy of an ablation or subsets study) or, failing that, ``identity``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xrayssl.config.base import validate
from xrayssl.config.study import ObjectiveSettings, ReportSettings
from xrayssl.errors import XraySSLError
from xrayssl.runs.folder import RunRecord, find_runs, read_run
from xrayssl.runs.metrics_file import (
    HELD_OUT,
    Estimate,
    Level,
    RunKind,
    RunMetrics,
    SplitScores,
)
from xrayssl.runs.results_files import RESULTS_DIR
from xrayssl.runs.trial_config import read_yaml_mapping
from xrayssl.study.comparisons import holm
from xrayssl.study.effects import (
    OpEffect,
    PairwiseCell,
    op_effects,
    pairwise_grid,
)
from xrayssl.study.localization import GradcamSummary, read_gradcam
from xrayssl.study.rung_results import MethodRungTable, last_rungs, study_rung_tables
from xrayssl.study.space import IDENTITY, PolicyPair, compose

if TYPE_CHECKING:
    from xrayssl.study.answer_model import Answer

__all__ = ["RESULTS_DIR", "RunResult", "StudyResults", "collect", "holm", "write_results"]

STUDY_FILE = "study.yaml"
SELECT = "val"  # the split every ranking, difference and selection is read on


def _value(estimate: Estimate | None) -> tuple[float, float, float]:
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
    vs_baseline: dict[str, float] = field(default_factory=dict)

    @property
    def policy(self) -> str:
        return PolicyPair(self.view1, self.view2).label

    @property
    def baseline(self) -> bool:
        return self.kind == "baseline"


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
    baselines: list[RunResult]
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
    answer: Answer | None = None  # the selected runs on test (``study.answer``)
    # Successive halving: every rung's values per method (``trials`` holds the last rung).
    rungs: list[MethodRungTable] = field(default_factory=list)

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
        return self.trials + self.baselines

    def ranked(self) -> list[RunResult]:
        return _ranked(self.trials)

    def ranked_runs(self) -> list[RunResult]:
        """Trials and baselines together, best first."""
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
            if not run.baseline:
                if taken.get(run.method, 0) >= per_method:
                    continue
                taken[run.method] = taken.get(run.method, 0) + 1
            shown.append(run)
        return shown

    def baseline_of(self, method: str, seed: int | None) -> RunResult | None:
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
        default = self.study_dir / "cache"
        return default if default.is_dir() else None


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

    value = _value(scores.estimate(objective.metric, level))
    other_value = _value(scores.estimate(other, level))
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


def read_study_config(study_dir: Path, notes: list[str]) -> tuple[dict[str, Any] | None,
                                                                   str | None]:
    """study.yaml as a mapping and as text; a damaged one becomes a note."""
    path = study_dir / STUDY_FILE
    if not path.is_file():
        notes.append(f"no {STUDY_FILE} in the study folder: the configuration is unknown")
        return None, None
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        return read_yaml_mapping(path), text
    except XraySSLError as err:
        notes.append(f"{err}; it is left out")
        return None, text


def collect(study_dir: Path, n_boot: int = 1000, seed: int = 0) -> StudyResults:
    """Read every run folder of ``study_dir`` and derive the study's results from them.

    A run that cannot be read, or has no result at the objective's fraction, becomes a note."""
    from xrayssl.study.comparisons import compare

    study_dir = Path(study_dir)
    if not study_dir.is_dir():
        raise XraySSLError(f"study folder not found: {study_dir}")
    notes: list[str] = []
    config, config_text = read_study_config(study_dir, notes)
    settings = config or {}
    where = str(study_dir / STUDY_FILE)
    objective = validate(ObjectiveSettings, settings.get("objective") or {}, f"{where} objective")
    report = validate(ReportSettings, settings.get("report") or {}, f"{where} report")
    space = settings.get("space") or {}
    trials: list[RunResult] = []
    baselines: list[RunResult] = []
    legacy: list[str] = []  # runs made before the val split: only test to rank them on
    labels = clusters = None
    for folder in find_runs(study_dir):
        name = str(folder.relative_to(study_dir))
        try:
            record = read_run(folder, study_dir)
        except XraySSLError as err:
            notes.append(f"{name}: {err}; that run is left out")
            continue
        result = run_result(record, objective)
        if result is not None and selection_split(record.metrics) != SELECT:
            legacy.append(name)
        if result is None:
            notes.append(f"{name}: no {SELECT} results at label fraction "
                         f"{objective.fraction:g}; left out")
        elif result.kind == "probe":
            notes.append(f"{name}: a lone `xrayssl probe` output, not a trial; left out")
        elif result.baseline:
            baselines.append(result)
        else:
            if not trials:  # the paired tests use the first trial's val images
                held_out = record.metrics.splits.get(selection_split(record.metrics))
                if held_out is not None and held_out.labels and held_out.clusters:
                    labels = np.asarray(held_out.labels, dtype=np.int64)
                    clusters = np.asarray(held_out.clusters, dtype=str)
            trials.append(result)
    if legacy:
        notes.append(
            f"{len(legacy)} run(s) were made before the val split existed "
            f"({', '.join(legacy[:3])}{', ...' if len(legacy) > 3 else ''}): they are ranked on "
            "their test split, which is selection on test; run the study again in a fresh "
            "runs_dir to select on val")
    rungs = study_rung_tables(trials, settings, where, notes)
    trials = last_rungs(trials, notes)
    results = StudyResults(
        study_dir=study_dir, name=str(settings.get("name") or study_dir.name),
        objective=objective, report=report, trials=trials, baselines=baselines,
        labels=labels, clusters=clusters, base=str(space.get("base", "")),
        ops=list(space.get("ops") or []), config=config, config_text=config_text, notes=notes,
        rungs=rungs,
    )
    if trials:
        compare(results, n_boot, seed)
        if not legacy:  # a run without val was selected on test: nothing is left to report
            from xrayssl.study.answer import answer

            results.answer = answer(results, n_boot, seed)
    results.op_effects = op_effects(results.trials)
    results.pairwise = pairwise_grid(results.trials, results.ops, results.base)
    results.gradcam = read_gradcam(study_dir, notes)
    return results


def write_results(study_dir: Path, n_boot: int = 1000, seed: int = 0) -> StudyResults:
    """Rebuild every results file of a study from its run folders."""
    from xrayssl.study.results_tables import results_files

    results = collect(study_dir, n_boot=n_boot, seed=seed)
    if not results.trials:
        raise XraySSLError(
            f"{study_dir} has no finished trial (a folder with config.yaml and metrics.json); "
            "run the study first: xrayssl study run CONFIG"
        )
    results_files(results).write(study_dir)
    return results
