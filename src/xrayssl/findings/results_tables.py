"""``StudyResults`` as the files of ``runs/<study>/results/``: CSV tables and ``results.md``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from xrayssl.evaluate.table import compact_p
from xrayssl.findings.answer_model import REFERENCES, Answer, Counts, Difference, Selected
from xrayssl.findings.model import PolicyRank, StudyResults
from xrayssl.findings.policy_ranking import unpooled_notes
from xrayssl.findings.rung_results import RungCell, epochs_label
from xrayssl.findings.significance import ALPHA, significant
from xrayssl.runs.metrics_file import Estimate
from xrayssl.runs.results_files import ResultsFiles


def _fmt(value: float | None, digits: int = 3) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _ci(value: float, lo: float, hi: float) -> str:
    if not math.isfinite(value):
        return "–"
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return f"{value:.3f}"
    return f"{value:.3f} [{lo:.3f}, {hi:.3f}]"


def _diff(block: dict[str, float]) -> str:
    if not block:
        return "–"
    star = " *" if significant(block) else ""
    return (f"{block['delta']:+.3f} [{block['lo']:+.3f}, {block['hi']:+.3f}] "
            f"{compact_p(block.get('p_holm', block['p']))}{star}")


def _markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _value(estimate: Estimate | None) -> float | None:
    return None if estimate is None else estimate.value


def run_rows(results: StudyResults) -> list[dict[str, Any]]:
    """``runs.csv``: one row per trial and pretraining seed, by method, policy and seed."""
    rows = []
    for t in results.by_policy():
        row: dict[str, Any] = {
            "method": t.method, "policy": t.policy, "seed": t.seed,
            results.metric: _fmt(t.value, 4), f"{results.metric}_lo": _fmt(t.lo, 4),
            f"{results.metric}_hi": _fmt(t.hi, 4),
            t.other: _fmt(t.other_value, 4), f"{t.other}_lo": _fmt(t.other_lo, 4),
            f"{t.other}_hi": _fmt(t.other_hi, 4),
        }
        block = t.vs_base  # the base policy at the same seed
        row["vs_baseline_delta"] = _fmt(block.get("delta", math.nan), 4)
        row["vs_baseline_p_holm"] = _fmt(block.get("p_holm", math.nan), 4)
        row["vs_baseline_significant"] = "" if not block else str(significant(block)).lower()
        row["folder"] = t.folder
        rows.append(row)
    return rows


def ranking_rows(results: StudyResults) -> list[dict[str, Any]]:
    """``ranking.csv``: every policy of each method over its seeds on val, best first."""
    rows = []
    metric = results.metric
    for ranking in results.policy_rankings:
        for rank, r in enumerate(ranking.rows, start=1):
            d = r.vs_best
            rows.append({
                "method": ranking.method, "rank": rank, "policy": r.policy, "seeds": r.seeds,
                f"val_{metric}": _fmt(r.value, 4), f"val_{metric}_lo": _fmt(r.lo, 4),
                f"val_{metric}_hi": _fmt(r.hi, 4),
                "vs_best_delta": _fmt(d.delta if d else None, 4),
                "vs_best_lo": _fmt(d.lo if d else None, 4),
                "vs_best_hi": _fmt(d.hi if d else None, 4),
                "p_holm": _fmt(r.p_holm, 4), "p_best": _fmt(r.p_best, 4),
                "top_set": "" if r.in_top_set is None else str(r.in_top_set).lower(),
                "pooled": str(ranking.pooled).lower()})
    return rows


def _gap(r: PolicyRank) -> str:
    d = r.vs_best
    return "–" if d is None else f"{d.delta:+.3f} [{d.lo:+.3f}, {d.hi:+.3f}]"


def _top(r: PolicyRank) -> str:
    return "" if r.in_top_set is None else ("yes" if r.in_top_set else "no")


def ranking_markdown(results: StudyResults) -> list[str]:
    """Every policy of each method on val over its seeds, best first (the answer's ranking)."""
    rankings = results.policy_rankings
    if not rankings:
        return []
    metric = results.metric.upper()
    out = ["## Policy ranking on val per method (seeds pooled)", "", RANKING_METHOD, ""]
    out.append(_markdown(
        ["method", "policy", "seeds", f"val {metric} [95% CI]", "Δ vs best [95% CI]",
         "p (Holm)", "P(best)", "top set"],
        [[m.method, r.policy, str(r.seeds), _ci(r.value, r.lo, r.hi), _gap(r),
          "–" if r.p_holm is None else compact_p(r.p_holm),
          "–" if r.p_best is None else f"{r.p_best:.2f}", _top(r)]
         for m in rankings for r in m.rows]))
    out += [f"- {note}" for note in unpooled_notes(rankings)]
    return [*out, ""]


RANKING_METHOD = (
    "Each policy's value is the mean over its pretraining seeds and label subsets, 95% CI by a "
    "two-level bootstrap (patients, then seeds, then subsets); the first row of a method is the "
    "policy the answer selects. Δ vs best: paired on the same val images. p (Holm): the gap "
    "tested against the gap chance alone opens between the best (picked as the maximum) and "
    "that policy, Holm-adjusted over the method's policies. P(best): share of bootstrap draws "
    "in which the policy is highest. Top set: the best and every policy whose p (Holm) >= "
    f"{ALPHA}.")


def _versus(d: Difference | None) -> str:
    return "–" if d is None else f"{d.delta:+.3f} [{d.lo:+.3f}, {d.hi:+.3f}] {compact_p(d.p)}"


def _versus_cell(s: Selected, reference: str) -> str:
    if reference == "base" and s.is_base:
        return "(is the base)"
    return _versus(s.versus.get(reference))


def _counts(s: Selected) -> str:
    def one(c: Counts | None) -> str:
        return "?" if c is None else f"{c.images} ({c.patients})"

    return f"{one(s.val)} / {one(s.test)}"


def answer_markdown(answer: Answer) -> list[str]:
    """The answer first: the headline, the protocol sentence, the selected policies on test."""
    metric, other = (m.upper() if m == "auroc" else m for m in (answer.metric, answer.other))
    out = ["## Answer", "", answer.headline, "", answer.protocol + ".", ""]
    rows = [[s.method, s.body_part or "all", s.policy, s.seeds_text,
             _ci(s.test_value, s.test_lo, s.test_hi),
             _ci(s.test_other, s.test_other_lo, s.test_other_hi),
             *[_versus_cell(s, r) for r in REFERENCES], s.top_set_text, _counts(s)]
            for s in answer.selected]
    out.append(_markdown(
        ["method", "body part", "selected on val", "seeds", f"test {metric} [95% CI]",
         f"test {other} [95% CI]", "Δ vs crop-only base", "Δ vs raw pixels",
         "Δ vs random init", "Δ vs supervised", "top set on val (P(best))",
         "images (patients) val / test"], rows))
    if answer.floors:
        out += ["", "Floors on test: " + "; ".join(
            f"{f.kind} {_ci(f.test_value, f.test_lo, f.test_hi)}" for f in answer.floors) + "."]
    out += ["", ANSWER_METHOD.format(metric=metric)]
    out += [f"- {note}" for note in answer.notes]
    return [*out, ""]


ANSWER_METHOD = (
    "Per method and body part the selected unit is a policy over its pretraining seeds: the "
    "first of the ranking on that part's val images (seeds and label subsets pooled). Test "
    "values: the mean over its seeds and label subsets, 95% CI by a two-level bootstrap "
    "(patients, then seeds, then subsets; with one seed it carries patients and subsets "
    "only). Δ: {metric}, selected minus reference on the same test images, patients drawn "
    "once for both and each side's seeds on their own. Kappa at each probe's val-chosen "
    "threshold. Policies that were not selected are not read on test.")


def answer_rows(answer: Answer | None) -> list[dict[str, Any]]:
    """``answer.csv``: one row per method and body part."""
    if answer is None:
        return []
    rows = []
    for s in answer.selected:
        row: dict[str, Any] = {
            "method": s.method, "body_part": s.body_part or "all", "policy": s.policy,
            "seeds": " ".join("" if x is None else str(x) for x in s.seeds),
            "label_subsets": s.n_subsets, "val_" + answer.metric: _fmt(s.val_value, 4),
            f"test_{answer.metric}": _fmt(s.test_value, 4),
            f"test_{answer.metric}_lo": _fmt(s.test_lo, 4),
            f"test_{answer.metric}_hi": _fmt(s.test_hi, 4),
            f"test_{answer.other}": _fmt(s.test_other, 4),
            f"test_{answer.other}_lo": _fmt(s.test_other_lo, 4),
            f"test_{answer.other}_hi": _fmt(s.test_other_hi, 4),
        }
        for r in REFERENCES:
            d = s.versus.get(r)
            row[f"vs_{r}_delta"] = _fmt(d.delta if d else None, 4)
            row[f"vs_{r}_lo"] = _fmt(d.lo if d else None, 4)
            row[f"vs_{r}_hi"] = _fmt(d.hi if d else None, 4)
            row[f"vs_{r}_p"] = _fmt(d.p if d else None, 4)
        row["top_set"] = " ".join(f"{name}:{p:.3f}" for name, p in s.top_set)
        for split, counts in (("val", s.val), ("test", s.test)):
            row[f"{split}_images"] = "" if counts is None else counts.images
            row[f"{split}_patients"] = "" if counts is None else counts.patients
        row["note"] = s.note or ""
        rows.append(row)
    return rows


def latex_escape(text: str) -> str:
    for plain, escaped in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("&", r"\&"),
                           ("%", r"\%"), ("#", r"\#"), ("$", r"\$"), ("{", r"\{"),
                           ("}", r"\}")):
        text = text.replace(plain, escaped)
    return text


def answer_latex(answer: Answer | None) -> str:
    """``answer.tex``: the answer over all images as a booktabs table for a paper: per method
    the selected policy, its test figures with 95% CIs and its difference to each floor."""
    if answer is None:
        return ""
    metric = "AUROC" if answer.metric == "auroc" else answer.metric
    floors = [r for r in REFERENCES if r != "base"]

    def interval(value: float, lo: float, hi: float) -> str:
        if not math.isfinite(value):
            return "--"
        shown = f"{value:.3f}"
        return shown + (f" [{lo:.3f}, {hi:.3f}]" if math.isfinite(lo) and math.isfinite(hi)
                        else "")

    def versus(d: Difference | None) -> str:
        if d is None or not math.isfinite(d.delta):
            return "--"
        return f"{d.delta:+.3f} [{d.lo:+.3f}, {d.hi:+.3f}]"

    lines = [
        "% xrayssl study answer (test split, selected on val); needs \\usepackage{booktabs}",
        "\\begin{tabular}{ll" + "l" * (2 + len(floors)) + "}",
        "\\toprule",
        " & ".join(["Method", "Policy", f"Test {metric} [95\\% CI]",
                    f"Test {latex_escape(answer.other)}"]
                   + [f"$\\Delta$ vs {latex_escape(f)}" for f in floors]) + " \\\\",
        "\\midrule",
    ]
    for s in answer.selected:
        if s.body_part is not None:
            continue
        cells = [latex_escape(s.method), latex_escape(s.policy),
                 interval(s.test_value, s.test_lo, s.test_hi),
                 interval(s.test_other, s.test_other_lo, s.test_other_hi)]
        cells += [versus(s.versus.get(f)) for f in floors]
        lines.append(" & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", ""]
    return "\n".join(lines)


def render_markdown(results: StudyResults) -> str:
    metric = results.metric.upper()
    out = [f"# Study results: {results.study_dir.name}", ""]
    if results.answer is not None:
        out += answer_markdown(results.answer)
    out += [f"Objective: {results.level}-level {metric} on val at {results.fraction:.0%} of the "
            f"training labels; {len(results.trials)} finished trials. Differences: paired "
            f"bootstrap on val (patients resampled), Holm-corrected per method; "
            f"* = p < {ALPHA}.", ""]
    out += ranking_markdown(results)
    other = "AUROC" if results.metric == "kappa" else "kappa"
    out += ["## Runs on val, one row per pretraining seed", "",
            "Single runs, by method, policy and seed: not a ranking (a policy is ranked over its "
            "seeds above). Δ vs base: the method's base policy at the same seed.", ""]
    out.append(_markdown(
        ["method", "policy", "seed", f"{metric} [95% CI]", f"{other} [95% CI]", "Δ vs base"],
        [[t.method, t.policy, str(t.seed), _ci(t.value, t.lo, t.hi),
          _ci(t.other_value, t.other_lo, t.other_hi), _diff(t.vs_base)]
         for t in results.by_policy()]))
    if results.floors:
        out += ["", "## Floors (on val)", ""]
        out.append(_markdown(["floor", f"{metric} [95% CI]", f"{other} [95% CI]"], [
            [t.view1, _ci(t.value, t.lo, t.hi),
             _ci(t.other_value, t.other_lo, t.other_hi)] for t in results.floors]))
    out += rungs_markdown(results)
    if results.op_effects:
        out += ["", "## Per-op effect (mean change when the op is added)", ""]
        out.append(_markdown(["method", "op", f"mean change in {metric}", "pairs"],
                             [[e.method, e.op, f"{e.mean_change:+.4f}", str(e.n_pairs)]
                              for e in results.op_effects]))
    if results.notes:
        out += ["", "## Notes", ""] + [f"- {note}" for note in results.notes]
    return "\n".join(out) + "\n"


def rung_rows(results: StudyResults) -> list[dict[str, Any]]:
    """rungs.csv: one row per method, policy and rung reached."""
    rows = []
    for table in results.rungs:
        for policy in table.policies:
            for rung, cell in table.cells.get(policy, {}).items():
                rows.append({
                    "method": table.method, "policy": policy.label, "rung": rung,
                    "epochs": table.epochs[rung], "seeds": cell.seeds,
                    f"val_{results.metric}": _fmt(cell.value, 4),
                    "promoted": "" if cell.promoted is None else str(cell.promoted).lower()})
    return rows


def _rung_cell(cell: RungCell | None) -> str:
    if cell is None:
        return "–"
    return _fmt(cell.value) + {True: " ↑", False: " ·", None: ""}[cell.promoted]


def rungs_markdown(results: StudyResults) -> list[str]:
    """The rungs table (val value per rung, promoted or not) and Kendall's tau between rungs."""
    if not results.rungs:
        return []
    out = ["", "## Rungs (successive halving)", "",
           f"Val {results.metric} per rung (mean over the rung's seeds); ↑ = promoted to the "
           "next rung, · = stopped there.", ""]
    for table in results.rungs:
        rungs = list(table.epochs)
        out.append(_markdown(["method", "policy", *[epochs_label(table.epochs[r]) for r in rungs]],
                             [[table.method, p.label,
                               *[_rung_cell(table.cells.get(p, {}).get(r)) for r in rungs]]
                              for p in table.policies]))
        out += [""] + [f"- {tau.sentence}." for tau in table.taus] + [""]
    return out


def results_files(results: StudyResults) -> ResultsFiles:
    parts = sorted({p for t in results.trials for p in t.by_part})
    return ResultsFiles(
        runs=run_rows(results),
        ranking=ranking_rows(results),
        by_body_part=[
            {"method": t.method, "policy": t.policy, "seed": t.seed,
             **{p: _fmt(_value(t.by_part.get(p)), 4) for p in parts}}
            for t in results.by_policy()],
        op_effects=[{"method": e.method, "op": e.op, "mean_change": e.mean_change,
                     "n_pairs": e.n_pairs} for e in results.op_effects],
        pairwise=[{"method": c.method, "view1_op": c.view1_op, "view2_op": c.view2_op,
                   "value": c.value} for c in results.pairwise],
        label_efficiency=[
            {"method": t.method, "policy": t.policy, "seed": t.seed, "fraction": f,
             results.metric: _fmt(e.value, 4)}
            for t in results.by_policy() for f, e in t.by_fraction.items()],
        markdown=render_markdown(results),
        rungs=rung_rows(results),
        answer=answer_rows(results.answer),
        latex=answer_latex(results.answer),
    )
