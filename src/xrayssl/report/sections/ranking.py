"""The policy ranking on val per method (seeds pooled, the answer's own ranking), then every run
with its CIs, paired difference to the base policy at the same seed and localization scores."""

from __future__ import annotations

import math

from xrayssl.data.cache import PreparedCache
from xrayssl.evaluate.table import compact_p
from xrayssl.explain.localization import LocalizationScore
from xrayssl.findings.model import MethodRanking, PolicyRank, StudyResults
from xrayssl.findings.policy_ranking import unpooled_notes
from xrayssl.findings.results_tables import RANKING_METHOD
from xrayssl.findings.run_result import RunResult
from xrayssl.findings.significance import significant
from xrayssl.report.page import Cell, Section, Table, estimate_cell, value_cell


def results_section(results: StudyResults, cache: PreparedCache | None = None) -> Section:
    metric = results.metric
    section = Section(
        "results", "Policy ranking and runs",
        RANKING_METHOD + " Below it, every run (one row per pretraining seed, by method, "
        "policy and seed: single runs are not a ranking) with bootstrap CIs (patients "
        "resampled); Δ vs base policy: paired-bootstrap difference to the method's base "
        "policy at the same seed, * where significant (Holm-corrected p < 0.05). Click a "
        "column header to sort.",
    )
    runs = [*results.by_policy(), *results.floors]
    if not runs:
        section.notes.append("no run folder with a metrics.json was found")
        return section
    rankings = results.policy_rankings
    if rankings:
        section.tables.append(ranking_table(rankings, metric))
        section.notes.extend(unpooled_notes(rankings))
    local = results.gradcam.by_run() if results.gradcam is not None else {}
    has_study = any(r.study for r in runs)
    other = "auroc" if metric == "kappa" else "kappa"
    columns = ["method", "policy", "seed", f"{metric.upper()} [CI]",
               "AUROC [CI]" if metric == "kappa" else "kappa [CI]"]
    if has_study:
        columns.append(f"study-level {metric.upper()} [CI]")
    tested = any(r.vs_base for r in runs)
    if tested:
        columns.append("Δ vs base policy (same seed)")
    if local:
        columns += ["pointing game (strict / near)", "CAM energy in lesion"]
    columns.append("run folder")
    rows, ids = [], []
    for run in runs:
        row = [Cell(run.method), Cell(run.policy + (" (floor)" if run.is_floor else "")),
               Cell("" if run.seed is None else str(run.seed), run.seed),
               estimate_cell(run.image.get(metric)), estimate_cell(run.image.get(other))]
        if has_study:
            row.append(estimate_cell(run.study.get(metric)))
        if tested:
            row.append(difference_cell(run.vs_base))
        if local:
            score = local.get(run.folder)
            row += localization_cells(score) if score is not None else [Cell("–"), Cell("–")]
        row.append(Cell(run.folder))
        rows.append(row)
        ids.append(run.folder)
    section.tables.append(Table(columns, rows, ids, sortable=True))
    return section


def _gap_cell(r: PolicyRank) -> Cell:
    d = r.vs_best
    if d is None:
        return Cell("–")
    return Cell(f"{d.delta:+.3f}", d.delta, f"[{d.lo:+.3f}, {d.hi:+.3f}]")


def ranking_table(rankings: list[MethodRanking], metric: str) -> Table:
    """Every policy of each method over its seeds, best first (kept in rank order)."""
    rows = []
    for ranking in rankings:
        for rank, r in enumerate(ranking.rows, start=1):
            rows.append([
                Cell(ranking.method), Cell(str(rank), rank), Cell(r.policy),
                Cell(str(r.seeds), r.seeds), value_cell(r.value, r.lo, r.hi), _gap_cell(r),
                Cell("–" if r.p_holm is None else compact_p(r.p_holm)),
                Cell("–" if r.p_best is None else f"{r.p_best:.2f}", r.p_best),
                Cell("" if r.in_top_set is None else ("yes" if r.in_top_set else "no"))])
    return Table(["method", "rank", "policy", "seeds", f"val {metric.upper()} [95% CI]",
                  "Δ vs best [95% CI]", "p (Holm)", "P(best)", "top set"], rows)


def difference_cell(block: dict[str, float]) -> Cell:
    """A paired-bootstrap difference: delta (* when Holm p < 0.05), the Holm p below."""
    if "delta" not in block or "p_holm" not in block:
        return Cell("–")
    star = " *" if significant(block) else ""
    return Cell(f"{block['delta']:+.3f}{star}", block["delta"],
                f"{compact_p(block['p_holm'])} (Holm)")


def localization_cells(score: LocalizationScore) -> list[Cell]:
    """'strict / near' pointing-game rates and the energy share with its ratio to chance.

    Empty CAMs are misses in the pointing game and have no energy share, so the energy cell
    says how many it leaves out: a model with many has its share read off the others.
    """
    ratio = (score.energy_inside / score.chance_energy if score.chance_energy > 0
             else math.nan)
    below = f"{ratio:.1f}× chance"
    if score.empty_cams:
        below += f"; {score.empty_cams} of {score.images} CAMs empty, left out"
    return [Cell(f"{score.pointing_game:.2f} / {score.pointing_game_tolerant:.2f}",
                 score.pointing_game),
            Cell(f"{score.energy_inside:.3g}", score.energy_inside, below)]


def run_label(run: RunResult) -> str:
    return run.policy if run.is_floor else f"{run.method} {run.policy}"
