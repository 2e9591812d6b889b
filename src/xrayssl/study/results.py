"""Study results, always rebuilt from the run folders (never from the Optuna database).

``xrayssl study results runs/<study>`` writes ``runs/<study>/results/``::

    ranked.csv            every trial: policy x method x seed, objective and kappa/AUROC with CIs,
                          paired-bootstrap difference to the method's best and to its baseline
    by_body_part.csv      the objective per body part for every trial
    op_effects.csv        mean change of the objective when an op is added (same method, seed)
    pairwise.csv          the view-1 op x view-2 op grid (SimCLR Figure 5) when there is one
    label_efficiency.csv  the objective at every label fraction
    results.md            all of the above as Markdown, best policies first

Every value here is read on the val split, the one that selects: the test split is kept for
the selected policies and the floors. Significance: a paired cluster bootstrap (patients
resampled, both trials' predictions on the same val images) of the difference, with Holm's
correction over the comparisons of a method.
The baseline of a method is its trial with the base policy alone (the crop-only policy of an
ablation or subsets study) or, failing that, ``identity``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from xrayssl.data.cache import atomic_write_text
from xrayssl.errors import XraySSLError
from xrayssl.study.ranking import holm
from xrayssl.study.space import IDENTITY, PolicyPair, compose, op_names

RESULTS_DIR = "results"
ALPHA = 0.05


@dataclass
class TrialResult:
    folder: str
    method: str
    view1: str
    view2: str | None
    seed: int
    value: float  # the objective
    lo: float
    hi: float
    other: str  # the second metric shown (kappa, or AUROC when the objective is kappa)
    other_value: float
    other_lo: float
    other_hi: float
    by_part: dict[str, float]
    by_fraction: dict[float, float]
    probs: np.ndarray | None  # (S, N_test) at the objective fraction
    val_key: tuple[int, ...] = ()
    baseline: str | None = None  # raw / random / supervised for a floor's trial
    vs_best: dict[str, float] = field(default_factory=dict)
    vs_baseline: dict[str, float] = field(default_factory=dict)

    @property
    def policy(self) -> str:
        return PolicyPair(self.view1, self.view2).label


@dataclass
class StudyResults:
    study_dir: Path
    metric: str
    fraction: float
    level: str
    trials: list[TrialResult]
    labels: np.ndarray | None
    clusters: np.ndarray | None
    base: str
    ops: list[str]
    notes: list[str] = field(default_factory=list)
    floors: list[TrialResult] = field(default_factory=list)  # baselines, never ranked

    def ranked(self) -> list[TrialResult]:
        return sorted(self.trials, key=lambda t: -t.value if math.isfinite(t.value) else math.inf)

    def best_per_method(self) -> dict[str, TrialResult]:
        best: dict[str, TrialResult] = {}
        for trial in self.ranked():
            best.setdefault(trial.method, trial)
        return best

    def best_per_body_part(self) -> dict[str, TrialResult]:
        best: dict[str, TrialResult] = {}
        for trial in self.trials:
            for part, value in trial.by_part.items():
                if math.isfinite(value) and (part not in best or value > best[part].by_part[part]):
                    best[part] = trial
        return dict(sorted(best.items()))

    def baseline_of(self, method: str, seed: int) -> TrialResult | None:
        for spec in (compose(self.base), IDENTITY):
            for trial in self.trials:
                if (trial.method, trial.seed, trial.view1) == (method, seed, spec) and (
                    trial.view2 in (None, spec)
                ):
                    return trial
        return None


def _estimate(block: Any) -> tuple[float, float, float]:
    if not isinstance(block, dict) or block.get("value") is None:
        return math.nan, math.nan, math.nan
    def num(x: Any) -> float:
        return math.nan if x is None else float(x)
    return num(block.get("value")), num(block.get("lo")), num(block.get("hi"))


def _fraction_block(metrics: dict[str, Any], fraction: float) -> tuple[str, dict[str, Any]] | None:
    for key, block in (metrics.get("results") or {}).items():
        if isinstance(block, dict) and math.isclose(float(block.get("fraction", -1)), fraction):
            return key, block
    return None


def read_trial(folder: Path, metric: str, fraction: float, level: str,
               notes: list[str]) -> TrialResult | None:
    try:
        metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
        config = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, json.JSONDecodeError, yaml.YAMLError) as err:
        notes.append(f"{folder.name}: unreadable ({err}); left out")
        return None
    found = _fraction_block(metrics, fraction)
    if found is None:
        notes.append(f"{folder.name}: no results at label fraction {fraction:g}; left out")
        return None
    key, found_block = found
    # Ranking, differences and per-part winners are all read on val: selection never sees
    # test. (A metrics.json made before the val split existed has only its test block.)
    block = found_block.get("val") or {}
    if not block:
        notes.append(f"{folder.name}: no val block (made before the train/val/test protocol); "
                     "left out")
        return None
    overall = ((block.get("metrics") or {}).get("overall") or {}).get(level) or {}
    other = "auroc" if metric == "kappa" else "kappa"
    value, lo, hi = _estimate(overall.get(metric))
    other_value, other_lo, other_hi = _estimate(overall.get(other))
    by_part = {
        str(part): _estimate(((levels or {}).get(level) or {}).get(metric))[0]
        for part, levels in ((block.get("metrics") or {}).get("by_body_part") or {}).items()
    }
    by_fraction = {}
    for other_block in (metrics.get("results") or {}).values():
        val_metrics = (other_block.get("val") or {}).get("metrics") or {}
        level_block = (val_metrics.get("overall") or {}).get(level) or {}
        by_fraction[float(other_block["fraction"])] = _estimate(level_block.get(metric))[0]
    predictions = (metrics.get("predictions") or {}).get("val") or {}
    probs = None
    if level == "image" and key in (predictions.get("by_fraction") or {}):
        probs = np.asarray(predictions["by_fraction"][key], dtype=np.float64)
    return TrialResult(
        folder=folder.name,
        method=str(config.get("method", "?")),
        view1=str(config.get("policy", "?")),
        view2=None if config.get("policy_b") in (None, "") else str(config["policy_b"]),
        seed=int(config.get("seed", 0)),
        value=value, lo=lo, hi=hi,
        other=other, other_value=other_value, other_lo=other_lo, other_hi=other_hi,
        by_part=by_part,
        by_fraction=dict(sorted(by_fraction.items())),
        probs=probs,
        val_key=tuple(predictions.get("indices") or ()),
        baseline=None if config.get("baseline") in (None, "") else str(config["baseline"]),
    )


def _compare(results: StudyResults, n_boot: int, seed: int) -> None:
    """Fill ``vs_best`` and ``vs_baseline`` with paired-bootstrap differences."""
    from xrayssl.evaluate.metrics import paired_bootstrap

    if results.labels is None or results.clusters is None:
        results.notes.append("no stored predictions: significance tests are left out")
        return
    best = results.best_per_method()
    for method in sorted({t.method for t in results.trials}):
        family: list[tuple[dict[str, float], float]] = []
        for trial in [t for t in results.trials if t.method == method]:
            references = (("vs_best", best[method]),
                          ("vs_baseline", results.baseline_of(method, trial.seed)))
            for slot, reference in references:
                if reference is None or reference is trial or trial.probs is None \
                        or reference.probs is None or reference.val_key != trial.val_key:
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


def collect(study_dir: Path, n_boot: int = 1000, seed: int = 0) -> StudyResults:
    """Read every finished trial folder of ``study_dir`` and compare them."""
    study_dir = Path(study_dir)
    if not study_dir.is_dir():
        raise XraySSLError(f"study folder not found: {study_dir}")
    study_yaml = study_dir / "study.yaml"
    config: dict[str, Any] = {}
    if study_yaml.is_file():
        config = yaml.safe_load(study_yaml.read_text(encoding="utf-8")) or {}
    objective = config.get("objective") or {}
    space = config.get("space") or {}
    metric = str(objective.get("metric", "auroc"))
    fraction = float(objective.get("fraction", 1.0))
    level = str(objective.get("level", "image"))
    notes: list[str] = []
    trials = []
    for metrics_path in sorted(study_dir.glob("*/metrics.json")):
        if (metrics_path.parent / "config.yaml").is_file():
            trial = read_trial(metrics_path.parent, metric, fraction, level, notes)
            if trial is not None:
                trials.append(trial)
    if not trials:
        raise XraySSLError(
            f"{study_dir} has no finished trial (a folder with config.yaml and metrics.json); "
            "run the study first: xrayssl study run CONFIG"
        )
    labels = clusters = None
    first = trials[0].folder
    stored = json.loads((study_dir / first / "metrics.json").read_text()).get("predictions")
    predictions = (stored or {}).get("val")
    if predictions and predictions.get("labels") is not None:
        labels = np.asarray(predictions["labels"], dtype=np.int64)
        clusters = np.asarray(predictions["clusters"], dtype=str)
    policies = [t for t in trials if t.baseline is None]
    if not policies:
        raise XraySSLError(
            f"{study_dir} has only floors (baselines) finished, no policy trial yet; "
            "let the study run on: xrayssl study run CONFIG"
        )
    results = StudyResults(study_dir, metric, fraction, level, policies, labels, clusters,
                           base=str(space.get("base", "")), ops=list(space.get("ops") or []),
                           notes=notes, floors=[t for t in trials if t.baseline is not None])
    _compare(results, n_boot, seed)
    return results


# -- derived tables -----------------------------------------------------------------------------

def op_changes(
    values: dict[tuple[str, int | None, frozenset[str]], float],
) -> dict[tuple[str, str], list[float]]:
    """(method, op) -> objective changes from adding ``op`` to an otherwise equal policy.

    ``values`` maps (method, seed, set of ops) to the objective of that single-policy trial.
    """
    changes: dict[tuple[str, str], list[float]] = defaultdict(list)
    for (method, seed, ops), value in values.items():
        for op in ops:
            without = values.get((method, seed, ops - {op}))
            if without is not None:
                changes[(method, op)].append(value - without)
    return changes


def op_effects(results: StudyResults) -> list[dict[str, Any]]:
    """Mean change of the objective when an op is added to an otherwise equal policy."""
    values: dict[tuple[str, int | None, frozenset[str]], float] = {}
    for trial in results.trials:
        ops = op_names(trial.view1)
        if trial.view2 not in (None, trial.view1) or ops is None or not math.isfinite(trial.value):
            continue
        values[(trial.method, trial.seed, ops)] = trial.value
    changes = op_changes(values)
    rows = []
    for (method, op), diffs in sorted(changes.items()):
        rows.append({"method": method, "op": op, "mean_change": float(np.mean(diffs)),
                     "n_pairs": len(diffs)})
    for op in sorted({op for _m, op in changes}):
        diffs = [d for (_m, o), ds in changes.items() if o == op for d in ds]
        rows.append({"method": "all", "op": op, "mean_change": float(np.mean(diffs)),
                     "n_pairs": len(diffs)})
    return rows


def pairwise_grid(results: StudyResults) -> list[dict[str, Any]]:
    """View-1 op x view-2 op cells (mirrored: swapping views is the same trial)."""
    from xrayssl.study.space import pairwise_cell

    if not results.ops:
        return []
    cells: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for trial in results.trials:
        cell = pairwise_cell(PolicyPair(trial.view1, trial.view2), results.ops, results.base)
        if trial.view2 is None or cell is None or not math.isfinite(trial.value):
            continue
        cells[(trial.method, *cell)].append(trial.value)
        if cell[0] != cell[1] and trial.view2 != compose(results.base):
            cells[(trial.method, cell[1], cell[0])].append(trial.value)
    return [{"method": m, "view1_op": a, "view2_op": b, "value": float(np.mean(v))}
            for (m, a, b), v in sorted(cells.items())]


# -- writing ------------------------------------------------------------------------------------

def _fmt(value: float, digits: int = 3) -> str:
    return "" if not math.isfinite(value) else f"{value:.{digits}f}"


def _ci(value: float, lo: float, hi: float) -> str:
    if not math.isfinite(value):
        return "–"
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return f"{value:.3f}"
    return f"{value:.3f} [{lo:.3f}, {hi:.3f}]"


def _diff(block: dict[str, float]) -> str:
    if not block:
        return "–"
    star = " *" if block.get("p_holm", 1.0) < ALPHA else ""
    return (f"{block['delta']:+.3f} [{block['lo']:+.3f}, {block['hi']:+.3f}] "
            f"p={block.get('p_holm', block['p']):.3f}{star}")


def _csv(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def ranked_rows(results: StudyResults) -> list[dict[str, Any]]:
    rows = []
    for rank, t in enumerate(results.ranked(), start=1):
        row: dict[str, Any] = {
            "rank": rank, "method": t.method, "policy": t.policy, "seed": t.seed,
            results.metric: _fmt(t.value, 4), f"{results.metric}_lo": _fmt(t.lo, 4),
            f"{results.metric}_hi": _fmt(t.hi, 4),
            t.other: _fmt(t.other_value, 4), f"{t.other}_lo": _fmt(t.other_lo, 4),
            f"{t.other}_hi": _fmt(t.other_hi, 4),
        }
        for slot in ("vs_best", "vs_baseline"):
            block = getattr(t, slot)
            row[f"{slot}_delta"] = _fmt(block.get("delta", math.nan), 4)
            row[f"{slot}_p_holm"] = _fmt(block.get("p_holm", math.nan), 4)
            row[f"{slot}_significant"] = (
                "" if not block else str(block.get("p_holm", 1.0) < ALPHA).lower()
            )
        row["baseline"] = ""
        row["folder"] = t.folder
        rows.append(row)
    for t in results.floors:
        row = {key: "" for key in (rows[0] if rows else {})}
        row.update({"rank": "", "method": t.method, "policy": t.policy, "seed": t.seed,
                    results.metric: _fmt(t.value, 4), f"{results.metric}_lo": _fmt(t.lo, 4),
                    f"{results.metric}_hi": _fmt(t.hi, 4), "baseline": t.baseline,
                    "folder": t.folder})
        rows.append(row)
    return rows


def render_markdown(results: StudyResults) -> str:
    metric = results.metric.upper()
    out = [f"# Study results: {results.study_dir.name}", "",
           f"Objective: {results.level}-level {metric} on val at {results.fraction:.0%} of the "
           f"training labels; {len(results.trials)} finished trials. Differences: paired "
           f"bootstrap on val (patients resampled), Holm-corrected per method; "
           f"* = p < {ALPHA}.", ""]
    out += ["## Best policy per method", ""]
    out.append(_markdown(["method", "policy", f"{metric} [95% CI]", "vs baseline"], [
        [m, t.policy, _ci(t.value, t.lo, t.hi), _diff(t.vs_baseline)]
        for m, t in results.best_per_method().items()]))
    out += ["", "## Ranked", ""]
    other = "AUROC" if results.metric == "kappa" else "kappa"
    out.append(_markdown(
        ["rank", "method", "policy", "seed", f"{metric} [95% CI]", f"{other} [95% CI]",
         "vs best of method", "vs baseline"],
        [[str(i), t.method, t.policy, str(t.seed), _ci(t.value, t.lo, t.hi),
          _ci(t.other_value, t.other_lo, t.other_hi), _diff(t.vs_best), _diff(t.vs_baseline)]
         for i, t in enumerate(results.ranked(), start=1)]))
    if results.floors:
        out += ["", "## Floors (baselines, on val)", ""]
        out.append(_markdown(["baseline", "policy", f"{metric} [95% CI]", f"{other} [95% CI]"], [
            [f"{t.baseline} (baseline)", t.policy, _ci(t.value, t.lo, t.hi),
             _ci(t.other_value, t.other_lo, t.other_hi)] for t in results.floors]))
    parts = results.best_per_body_part()
    if parts:
        out += ["", "## Best policy per body part", ""]
        out.append(_markdown(["body part", "method", "policy", metric],
                             [[p, t.method, t.policy, _fmt(t.by_part[p])]
                              for p, t in parts.items()]))
    effects = op_effects(results)
    if effects:
        out += ["", "## Per-op effect (mean change when the op is added)", ""]
        out.append(_markdown(["method", "op", f"mean change in {metric}", "pairs"],
                             [[r["method"], r["op"], f"{r['mean_change']:+.4f}",
                               str(r["n_pairs"])] for r in effects]))
    if results.notes:
        out += ["", "## Notes", ""] + [f"- {note}" for note in results.notes]
    return "\n".join(out) + "\n"


def write_results(study_dir: Path, n_boot: int = 1000, seed: int = 0) -> StudyResults:
    """Rebuild every results file of a study from its run folders."""
    results = collect(study_dir, n_boot=n_boot, seed=seed)
    out = Path(study_dir) / RESULTS_DIR
    atomic_write_text(out / "ranked.csv", _csv(ranked_rows(results)))
    parts = sorted({p for t in results.trials for p in t.by_part})
    atomic_write_text(out / "by_body_part.csv", _csv([
        {"method": t.method, "policy": t.policy, "seed": t.seed,
         **{p: _fmt(t.by_part.get(p, math.nan), 4) for p in parts}}
        for t in results.ranked()]))
    atomic_write_text(out / "op_effects.csv", _csv(op_effects(results)))
    atomic_write_text(out / "pairwise.csv", _csv(pairwise_grid(results)))
    atomic_write_text(out / "label_efficiency.csv", _csv([
        {"method": t.method, "policy": t.policy, "seed": t.seed, "fraction": f,
         results.metric: _fmt(v, 4)}
        for t in results.ranked() for f, v in t.by_fraction.items()]))
    atomic_write_text(out / "results.md", render_markdown(results))
    return results
