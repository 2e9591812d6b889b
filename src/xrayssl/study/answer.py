"""The study's answer: the run selected on val, reported once on test, beside the floors.

Per method (over all images and per body part), the selected run is the one best on val on
the study's objective. Only the selected runs, the method's crop-only base policy and the
floors are read on the test split; a run that was not selected has its test block left
unread, so no table can invite choosing on test. The base policy's test values enter only
through the paired difference to it. Differences are paired cluster bootstraps on the test
images (patients resampled, ``paired_bootstrap``); over all images only, since a run file
does not record which test image belongs to which body part. The top set comes from
``ranking.rank_policies`` on val (seeds of a policy pooled).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xrayssl.evaluate.table import compact_p
from xrayssl.runs.folder import read_run
from xrayssl.runs.metrics_file import HELD_OUT, HeldOutSplit, SplitScores
from xrayssl.study.ranking import rank_policies
from xrayssl.study.results import SELECT, RunResult, StudyResults, _value

FLOORS = ("raw", "random", "supervised")
REFERENCES = ("base", *FLOORS)  # what the selected run is compared with on test


@dataclass
class Counts:
    images: int
    patients: int


@dataclass
class Difference:
    """Selected minus reference on test: delta [lo, hi] and the two-sided bootstrap p."""

    delta: float
    lo: float
    hi: float
    p: float


@dataclass
class Selected:
    """One selected run and its test figures."""

    method: str
    body_part: str | None  # None: all images
    policy: str
    seed: int | None
    folder: str
    val_value: float
    test_value: float
    test_lo: float
    test_hi: float
    test_other: float
    test_other_lo: float
    test_other_hi: float
    versus: dict[str, Difference] = field(default_factory=dict)  # REFERENCES -> difference
    top_set: list[str] = field(default_factory=list)  # policies not worse than the best on val


@dataclass
class Floor:
    kind: str
    test_value: float
    test_lo: float
    test_hi: float


@dataclass
class Answer:
    metric: str
    other: str
    selected: list[Selected]
    floors: list[Floor]
    val: Counts | None
    test: Counts | None
    beats_raw: bool | None  # None: no raw floor (or no paired test) to decide it
    notes: list[str] = field(default_factory=list)

    @property
    def protocol(self) -> str:
        def counts(c: Counts | None) -> str:
            return "unknown counts" if c is None else f"{c.images} images, {c.patients} patients"

        return f"selected on val ({counts(self.val)}), reported on test ({counts(self.test)})"

    @property
    def headline(self) -> str:
        """The first sentence of the answer."""
        overall = [s for s in self.selected if s.body_part is None]
        if self.beats_raw is False:
            shown = "; ".join(f"{s.method} {s.policy}: {_delta(s.versus.get('raw'))}"
                              for s in overall)
            return (f"SSL did not beat raw pixels here: no selected policy is significantly "
                    f"better than the raw-pixel probe on test ({self.metric.upper()} "
                    f"difference to raw: {shown}).")
        if self.beats_raw:
            won = [s for s in overall if _beats(s.versus.get("raw"))]
            return ("SSL beat raw pixels on test: "
                    + "; ".join(f"{s.method} {s.policy} {_delta(s.versus.get('raw'))}"
                                for s in won) + ".")
        return "No raw-pixel floor was measured on test: whether SSL helped is not decided."


def _delta(d: Difference | None) -> str:
    if d is None:
        return "not measured"
    return f"Δ {d.delta:+.3f} [{d.lo:+.3f}, {d.hi:+.3f}], {compact_p(d.p)}"


def _beats(d: Difference | None) -> bool:
    return d is not None and d.lo > 0


@dataclass
class _TestRead:
    """A run's test block, read only for the selected runs, the base policies and the floors."""

    scores: SplitScores
    split: HeldOutSplit


def _read_test(run: RunResult, study_dir: Path, fraction: float) -> _TestRead | None:
    metrics = read_run(run.path, study_dir).metrics
    scores = metrics.scores(fraction, HELD_OUT)
    split = metrics.splits.get(HELD_OUT)
    if scores is None or split is None:
        return None
    return _TestRead(scores, split)


def _counts(split: HeldOutSplit | None) -> Counts | None:
    if split is None:
        return None
    images = split.n if split.n is not None else len(split.indices or [])
    patients = split.n_patients if split.n_patients is not None \
        else len(set(split.clusters or []))
    return Counts(images, patients)


def _threshold(scores: SplitScores) -> float | list[float]:
    image = scores.overall.image
    cut = image.threshold if image is not None else None
    return 0.5 if cut is None else cut


def _difference(results: StudyResults, mine: _TestRead, other: _TestRead, n_boot: int,
                seed: int) -> Difference | None:
    from xrayssl.evaluate.metrics import paired_bootstrap

    split = mine.split
    if mine.scores.predictions is None or other.scores.predictions is None \
            or split.labels is None or split.clusters is None \
            or (split.indices or []) != (other.split.indices or []):
        return None
    out = paired_bootstrap(np.asarray(split.labels), np.asarray(other.scores.predictions),
                           np.asarray(mine.scores.predictions), np.asarray(split.clusters),
                           metric=results.metric, n_boot=n_boot, seed=seed,
                           threshold=_threshold(other.scores),
                           threshold_b=_threshold(mine.scores))
    return Difference(out["delta"], out["lo"], out["hi"], out["p_value"])


def _top_set(results: StudyResults, method: str, n_boot: int, seed: int) -> list[str]:
    """Policies of ``method`` not significantly worse than its best on val (seeds pooled)."""
    if results.labels is None or results.clusters is None:
        return []
    pooled: dict[str, list[np.ndarray]] = {}
    for trial in results.trials:
        if trial.method == method and trial.probs is not None \
                and trial.probs.shape[-1] == len(results.labels):
            pooled.setdefault(trial.policy, []).append(trial.probs)
    stacks = {}
    for policy, seeds in pooled.items():
        sets = min(len(p) for p in seeds)  # (R seeds, S subsets, N val images)
        stacks[policy] = np.stack([p[:sets] for p in seeds])
    if not stacks:
        return []
    ranking = rank_policies(results.labels, results.clusters, stacks, metric=results.metric,
                            n_boot=n_boot, seed=seed)
    return ranking.top_set


def _selected(run: RunResult, part: str | None, test: _TestRead,
              results: StudyResults) -> Selected | None:
    value = test.scores.estimate(results.metric, results.objective.level, part)
    if value is None:
        return None
    other_metric = "auroc" if results.metric == "kappa" else "kappa"
    main = _value(value)
    other = _value(test.scores.estimate(other_metric, results.objective.level, part))
    val = run.value if part is None else _value(run.by_part.get(part))[0]
    return Selected(method=run.method, body_part=part, policy=run.policy, seed=run.seed,
                    folder=run.folder, val_value=val, test_value=main[0], test_lo=main[1],
                    test_hi=main[2], test_other=other[0], test_other_lo=other[1],
                    test_other_hi=other[2])


def _best_on_part(trials: list[RunResult], part: str) -> RunResult | None:
    scored = [(t, _value(t.by_part.get(part))[0]) for t in trials]
    finite = [(t, v) for t, v in scored if math.isfinite(v)]
    return max(finite, key=lambda tv: tv[1])[0] if finite else None


def answer(results: StudyResults, n_boot: int = 1000, seed: int = 0) -> Answer | None:
    """The selected runs' test figures and their paired differences to the base and floors."""
    best = results.best_per_method()
    if not best:
        return None
    study_dir, fraction = results.study_dir, results.fraction
    notes: list[str] = []
    floors_read: dict[str, _TestRead] = {}
    floors: list[Floor] = []
    for run in results.baselines:
        if run.view1 in FLOORS and run.view1 not in floors_read:
            read = _read_test(run, study_dir, fraction)
            if read is None:
                notes.append(f"{run.folder}: no test block; that floor is left out")
                continue
            floors_read[run.view1] = read
            v = _value(read.scores.estimate(results.metric, results.objective.level))
            floors.append(Floor(run.view1, *v))
    selected: list[Selected] = []
    test_split = val_split = None
    for method, run in best.items():
        test = _read_test(run, study_dir, fraction)
        if test is None:
            notes.append(f"{run.folder}: selected on val but has no test block at label "
                         f"fraction {fraction:g}; run it again to report it")
            continue
        test_split = test_split or test.split
        if val_split is None:
            val_split = read_run(run.path, study_dir).metrics.splits.get(SELECT)
        overall = _selected(run, None, test, results)
        if overall is None:
            continue
        references = dict(floors_read)
        base = results.baseline_of(method, run.seed)
        if base is not None and base is not run:
            base_test = _read_test(base, study_dir, fraction)
            if base_test is not None:
                references["base"] = base_test
        for name in REFERENCES:
            if name in references:
                diff = _difference(results, test, references[name], n_boot, seed)
                if diff is not None:
                    overall.versus[name] = diff
        overall.top_set = _top_set(results, method, n_boot, seed)
        selected.append(overall)
        mine = [t for t in results.trials if t.method == method]
        for part in sorted({p for t in mine for p in t.by_part}):
            chosen = _best_on_part(mine, part)
            read = test if chosen is run else (
                _read_test(chosen, study_dir, fraction) if chosen is not None else None)
            if chosen is not None and read is not None:
                row = _selected(chosen, part, read, results)
                if row is not None:
                    selected.append(row)
    if not selected:
        return None
    overall_rows = [s for s in selected if s.body_part is None]
    decided = [s for s in overall_rows if "raw" in s.versus]
    beats_raw = any(_beats(s.versus["raw"]) for s in decided) if decided else None
    return Answer(metric=results.metric, other="auroc" if results.metric == "kappa" else "kappa",
                  selected=selected, floors=floors, val=_counts(val_split),
                  test=_counts(test_split), beats_raw=beats_raw, notes=notes)

