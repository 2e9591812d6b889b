"""The study's answer: per method and body part, the policy selected on val, reported on test.

The selected unit is a policy over its pretraining seeds (``policy_seeds``). Per method, and
per body part on that part's val images, ``ranking.rank_policies`` ranks the policies on val
(each one's seeds and label subsets pooled) and the first is selected; its top set and P(best)
come from the same ranking. On test, the selected policy's figures are the mean over its seeds
(and label subsets) with the two-level bootstrap CI (``uncertainty.seed_interval``: patients,
then seeds, then subsets), and its paired differences to the method's crop-only base policy
and to the raw-pixel, random-init and supervised floors are ``paired_seed_difference``
(patients drawn once for both, each side's seeds on their own). Thresholded metrics use each
probe's val-chosen threshold. Per body part, the test figures and differences are computed on
that part's test images, which the run file names image by image (``HeldOutSplit.image_parts``).

Only the selected policies, each method's base policy and the floors are read on test
(``Answer.read_on_test`` lists the folders); a policy that was not selected has its test block
left unread, so no table can invite choosing on test.

Where the run files cannot give the pooled figures (a study-level objective, whose val
predictions are per image; files without predictions; per-part rows of files written before
each image's body part was recorded), a row shows the recorded test value (the mean over seeds;
its CI only for one seed) without differences, and a note says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from xrayssl.evaluate.uncertainty import paired_seed_difference, seed_interval
from xrayssl.findings.answer_model import (
    FLOORS,
    REFERENCES,
    Answer,
    Counts,
    Difference,
    Floor,
    Selected,
    beats,
)
from xrayssl.findings.model import StudyResults
from xrayssl.findings.policy_seeds import (
    PolicySeeds,
    Stack,
    TestBlocks,
    group_policies,
    read_test_blocks,
    val_stack,
)
from xrayssl.findings.ranking import Ranking, rank_policies
from xrayssl.findings.run_result import SELECT, RunResult, estimate_value
from xrayssl.runs.folder import read_run
from xrayssl.runs.metrics_file import HeldOutSplit, Level
from xrayssl.study.space import IDENTITY, PolicyPair, compose


class _Reader:
    """Reads test blocks, each unit once, and remembers which folders were read."""

    def __init__(self, results: StudyResults, notes: list[str]) -> None:
        self.results, self.notes = results, notes
        self.read: dict[tuple[str, ...], TestBlocks | None] = {}

    def test(self, runs: list[RunResult]) -> TestBlocks | None:
        key = tuple(run.folder for run in runs)
        if key not in self.read:
            self.read[key] = read_test_blocks(runs, self.results.study_dir,
                                              self.results.fraction, self.notes)
        return self.read[key]

    @property
    def folders(self) -> list[str]:
        return [folder for key in self.read for folder in key]


@dataclass
class _Context:
    results: StudyResults
    reader: _Reader
    notes: list[str]
    n_boot: int
    seed: int

    @property
    def metric(self) -> str:
        return self.results.metric

    @property
    def other(self) -> str:
        return "auroc" if self.results.metric == "kappa" else "kappa"


def _interval(ctx: _Context, metric: str, y: np.ndarray, clusters: np.ndarray,
              mine: Stack) -> tuple[float, float, float]:
    out = seed_interval(y, mine.probs, clusters, metric=metric, n_boot=ctx.n_boot,
                        seed=ctx.seed, thresholds=mine.thresholds)
    # Widened seed deviations (adjusted residuals) can carry a draw past the metric's range
    # (an AUROC of 1.02); the bounds are clipped to it, as clipping every draw would do.
    low = -1.0 if metric == "kappa" else 0.0
    return out.value, float(np.clip(out.lo, low, 1.0)), float(np.clip(out.hi, low, 1.0))


def _versus(ctx: _Context, y: np.ndarray, clusters: np.ndarray, mine: Stack,
            other: Stack) -> Difference:
    out = paired_seed_difference(y, other.probs, mine.probs, clusters, metric=ctx.metric,
                                 n_boot=ctx.n_boot, seed=ctx.seed,
                                 thresholds_a=other.thresholds, thresholds_b=mine.thresholds)
    return Difference(out.delta, out.lo, out.hi, out.p_value)


def _recorded(blocks: TestBlocks, metric: str, level: Level,
              part: str | None) -> tuple[float, float, float]:
    """The test value the run files recorded: one seed's with its CI, several seeds' mean."""
    values = [estimate_value(s.estimate(metric, level, part)) for s in blocks.scores]
    if len(values) == 1:
        return values[0]
    return float(np.mean([v[0] for v in values])), math.nan, math.nan


def _recorded_row(ctx: _Context, unit: PolicySeeds, blocks: TestBlocks, part: str | None,
                  val_value: float, note: str) -> Selected:
    level = ctx.results.objective.level
    main = _recorded(blocks, ctx.metric, level, part)
    other = _recorded(blocks, ctx.other, level, part)
    if note not in ctx.notes:
        ctx.notes.append(note)
    return Selected(method=unit.method, body_part=part, policy=unit.policy, seeds=unit.seeds,
                    folders=unit.folders, n_subsets=len(blocks.scores[0].predictions or [[]]),
                    val_value=val_value, test_value=main[0], test_lo=main[1], test_hi=main[2],
                    test_other=other[0], test_other_lo=other[1], test_other_hi=other[2],
                    test=_split_counts(blocks.split) if part is None else None, note=note)


def _split_counts(split: HeldOutSplit) -> Counts | None:
    images = split.n if split.n is not None else len(split.indices or [])
    patients = split.n_patients if split.n_patients is not None \
        else len(set(split.clusters or []))
    return Counts(images, patients) if images else None


def _pooled_row(ctx: _Context, unit: PolicySeeds, blocks: TestBlocks, part: str | None,
                ranking: Ranking, val: Counts,
                references: dict[str, TestBlocks]) -> Selected | None:
    """The selected unit's figures on the test images of ``part`` (None: all)."""
    assert blocks.stack is not None and blocks.labels is not None and blocks.clusters is not None
    if part is None:
        mask = np.ones(len(blocks.labels), dtype=bool)
    else:
        parts = blocks.parts
        assert parts is not None
        mask = parts == part
    if not mask.any():
        ctx.notes.append(f"{unit.method}: no test image of body part {part!r}; that row is "
                         "left out")
        return None
    y, clusters, mine = blocks.labels[mask], blocks.clusters[mask], blocks.stack.take(mask)
    main = _interval(ctx, ctx.metric, y, clusters, mine)
    other = _interval(ctx, ctx.other, y, clusters, mine)
    row = Selected(method=unit.method, body_part=part, policy=unit.policy, seeds=unit.seeds,
                   folders=unit.folders, n_subsets=mine.probs.shape[1],
                   val_value=ranking.best.value, test_value=main[0], test_lo=main[1],
                   test_hi=main[2], test_other=other[0], test_other_lo=other[1],
                   test_other_hi=other[2],
                   top_set=[(r.name, r.p_best) for r in ranking.rows if r.in_top_set],
                   val=val, test=Counts.of(clusters))
    for name in REFERENCES:
        reference = references.get(name)
        if reference is None or reference.stack is None:
            continue
        if (reference.split.indices or []) != (blocks.split.indices or []):
            ctx.notes.append(f"{unit.method} vs {name}: scored on other test images; that "
                             "difference is left out")
            continue
        row.versus[name] = _versus(ctx, y, clusters, mine, reference.stack.take(mask))
    return row


def _base_label(results: StudyResults, units: dict[str, PolicySeeds]) -> str | None:
    for spec in (compose(results.base), IDENTITY):
        label = PolicyPair(spec).label
        if label in units:
            return label
    return None


def _rank(ctx: _Context, stacks: dict[str, Stack], mask: np.ndarray) -> Ranking | None:
    results = ctx.results
    assert results.labels is not None and results.clusters is not None
    if len(np.unique(results.labels[mask])) < 2:
        return None  # one class on these val images: no metric ranks them
    ranking = rank_policies(results.labels[mask], results.clusters[mask],
                            {p: s.take(mask).probs for p, s in stacks.items()},
                            metric=ctx.metric, n_boot=ctx.n_boot, seed=ctx.seed,
                            thresholds={p: s.thresholds for p, s in stacks.items()})
    return ranking if math.isfinite(ranking.best.value) else None


def _references(ctx: _Context, units: dict[str, PolicySeeds], chosen: PolicySeeds,
                floors: dict[str, TestBlocks]) -> tuple[dict[str, TestBlocks], bool]:
    """The test blocks the selected unit is compared with, and whether it is the base."""
    references = dict(floors)
    base = _base_label(ctx.results, units)
    missing = (f"{chosen.method}: its base policy has no ranked trial (not run, or it did not "
               "reach the last rung), so there is no difference to it")
    # A list study declares no base policy: nothing is missing then.
    if base is None and ctx.results.base and missing not in ctx.notes:
        ctx.notes.append(missing)
    if base is not None and base != chosen.policy:
        blocks = ctx.reader.test(units[base].runs)
        if blocks is not None:
            references["base"] = blocks
    return references, base == chosen.policy


def _select(ctx: _Context, units: dict[str, PolicySeeds], stacks: dict[str, Stack],
            mask: np.ndarray, part: str | None, floors: dict[str, TestBlocks]) -> Selected | None:
    """Rank on the val images of ``mask`` and report the first on the test images of ``part``."""
    method = next(iter(units.values())).method
    where = "all images" if part is None else f"body part {part!r}"
    ranking = _rank(ctx, stacks, mask)
    if ranking is None:
        ctx.notes.append(f"{method}, {where}: {ctx.metric} is undefined on val (one class); "
                         "nothing is selected there")
        return None
    chosen = units[ranking.best.name]
    blocks = ctx.reader.test(chosen.runs)
    if blocks is None:
        return None
    assert ctx.results.clusters is not None
    val = Counts.of(ctx.results.clusters[mask])
    references, is_base = _references(ctx, units, chosen, floors)
    if blocks.stack is None or (part is not None and blocks.parts is None):
        why = ("its run files hold no test predictions" if blocks.stack is None else
               "its run files do not record each test image's body part (written before "
               "xrayssl recorded it)")
        recorded = _recorded_row(ctx, chosen, blocks, part, ranking.best.value,
                                 f"{chosen.method} {chosen.policy}: recorded test value "
                                 f"without differences, since {why}")
        recorded.val, recorded.is_base = val, is_base
        recorded.top_set = [(r.name, r.p_best) for r in ranking.rows if r.in_top_set]
        recorded.ranking = ranking
        return recorded
    row = _pooled_row(ctx, chosen, blocks, part, ranking, val, references)
    if row is not None:
        row.is_base, row.ranking = is_base, ranking
    return row


def _mean_val(unit: PolicySeeds, part: str | None) -> float:
    values = [run.value if part is None else estimate_value(run.by_part.get(part))[0]
              for run in unit.runs]
    return float(np.mean(values)) if values and all(map(math.isfinite, values)) else math.nan


def _select_recorded(ctx: _Context, units: dict[str, PolicySeeds], part: str | None,
                     why: str) -> Selected | None:
    """Select by the mean over seeds of the recorded val values; report recorded test ones."""
    scored = [(u, _mean_val(u, part)) for u in units.values()]
    finite = [(u, v) for u, v in scored if math.isfinite(v)]
    if not finite:
        return None
    chosen, value = max(finite, key=lambda uv: uv[1])
    blocks = ctx.reader.test(chosen.runs)
    if blocks is None:
        return None
    row = _recorded_row(ctx, chosen, blocks, part, value, why)
    row.is_base = chosen.policy == _base_label(ctx.results, units)
    return row


def _val_split(results: StudyResults) -> HeldOutSplit | None:
    if not results.trials:
        return None
    split = read_run(results.trials[0].path, results.study_dir).metrics.splits.get(SELECT)
    if split is None or results.labels is None or len(split.labels or []) != len(results.labels):
        return None
    return split


def _floors(ctx: _Context) -> tuple[dict[str, TestBlocks], list[Floor]]:
    by_kind = group_policies([run for run in ctx.results.floors if run.view1 in FLOORS])
    read: dict[str, TestBlocks] = {}
    shown: list[Floor] = []
    for kind, unit in by_kind.items():
        blocks = ctx.reader.test(unit.runs)
        if blocks is None:
            ctx.notes.append(f"the {kind} floor has no test block; it is left out")
            continue
        read[kind] = blocks
        if blocks.stack is not None and ctx.results.level == "image":
            assert blocks.labels is not None and blocks.clusters is not None
            value = _interval(ctx, ctx.metric, blocks.labels, blocks.clusters, blocks.stack)
        else:
            value = _recorded(blocks, ctx.metric, ctx.results.objective.level, None)
        shown.append(Floor(kind, *value, seeds=len(unit.runs)))
    return read, shown


RECORDED = ("{why}: the selected policy is the best mean over seeds of its recorded val "
            "values, and its recorded test value is shown without top set or differences")
STUDY_LEVEL = "the objective is study-level and the pooled figures need image-level predictions"
NO_PREDICTIONS = "some runs hold no val predictions on the study's val images"

OLD_PARTS = ("the run files do not record each image's body part (written before xrayssl "
             "recorded it): per-body-part rows show the recorded test value of the policy best "
             "on that part's val images (mean over seeds), without top set or differences; "
             "run the study again in a fresh runs_dir to get them")


def _method_rows(ctx: _Context, units: dict[str, PolicySeeds], val: HeldOutSplit | None,
                 floors: dict[str, TestBlocks]) -> list[Selected]:
    results = ctx.results
    n_val = len(results.labels) if results.labels is not None else 0
    stacks = {p: val_stack(u, n_val) for p, u in units.items()}
    parts = sorted({p for u in units.values() for r in u.runs for p in r.by_part})
    pooled = {p: s for p, s in stacks.items() if s is not None}
    rows: list[Selected | None] = []
    if results.level != "image" or len(pooled) != len(stacks) or not n_val:
        why = RECORDED.format(why=STUDY_LEVEL if results.level != "image" else NO_PREDICTIONS)
        if why not in ctx.notes:
            ctx.notes.append(why)
        rows.append(_select_recorded(ctx, units, None, why))
        rows += [_select_recorded(ctx, units, part, why) for part in parts]
        return [row for row in rows if row is not None]
    rows.append(_select(ctx, units, pooled, np.ones(n_val, dtype=bool), None, floors))
    val_parts = None if val is None or val.image_parts is None else np.asarray(val.image_parts)
    if len(parts) > 1 and val_parts is None:
        if OLD_PARTS not in ctx.notes:
            ctx.notes.append(OLD_PARTS)
        rows += [_select_recorded(ctx, units, part, OLD_PARTS) for part in parts]
    elif val_parts is not None and len(set(val_parts.tolist())) > 1:
        rows += [_select(ctx, units, pooled, val_parts == part, part, floors)
                 for part in sorted(set(val_parts.tolist()))]
    return [row for row in rows if row is not None]


def answer(results: StudyResults, n_boot: int = 1000, seed: int = 0) -> Answer | None:
    """Per method and body part: the policy selected on val, its test figures, its
    differences to the base policy and the floors."""
    if not results.trials:
        return None
    notes: list[str] = []
    ctx = _Context(results, _Reader(results, notes), notes, n_boot, seed)
    floors, shown = _floors(ctx)
    val = _val_split(results)
    selected: list[Selected] = []
    methods = list(dict.fromkeys(t.method for t in results.trials))
    for method in methods:
        units = group_policies([t for t in results.trials if t.method == method])
        selected += _method_rows(ctx, units, val, floors)
    if not selected:
        return None
    overall = [s for s in selected if s.body_part is None]
    decided = [s for s in overall if "raw" in s.versus]
    beats_raw = any(beats(s.versus["raw"]) for s in decided) if decided else None
    val_counts = overall[0].val if overall and overall[0].val is not None else (
        Counts.of(results.clusters) if results.clusters is not None else None)
    test_counts = overall[0].test if overall else None
    return Answer(metric=results.metric, other=ctx.other, selected=selected, floors=shown,
                  val=val_counts, test=test_counts, beats_raw=beats_raw, notes=notes,
                  read_on_test=ctx.reader.folders)


__all__ = ["FLOORS", "REFERENCES", "Answer", "Counts", "Difference", "Floor", "Selected",
           "answer"]
