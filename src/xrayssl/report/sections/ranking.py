"""Ranked results: every run best first with its CIs, paired tests and localization scores, and
the best run per body part."""

from __future__ import annotations

import math

from xrayssl.data.cache import PreparedCache
from xrayssl.evaluate.table import compact_p
from xrayssl.explain.localization import LocalizationScore
from xrayssl.report.page import Cell, Section, Table, estimate_cell
from xrayssl.study.comparisons import significant
from xrayssl.study.results import RunResult, StudyResults


def results_section(results: StudyResults, cache: PreparedCache | None = None) -> Section:
    metric = results.metric
    section = Section(
        "results", "Ranked results",
        "Every run of the study, best first, with bootstrap confidence intervals (patients "
        "resampled). Δ: paired-bootstrap difference to the best run and to the base policy "
        "of the same method, * where significant (Holm-corrected p < 0.05). Click a column "
        "header to sort.",
    )
    runs = results.ranked_runs()
    if not runs:
        section.notes.append("no run folder with a metrics.json was found")
        return section
    local = results.gradcam.by_run() if results.gradcam is not None else {}
    has_study = any(r.study for r in runs)
    other = "auroc" if metric == "kappa" else "kappa"
    columns = ["rank", "method", "policy", "seed", f"{metric.upper()} [CI]",
               "AUROC [CI]" if metric == "kappa" else "kappa [CI]"]
    if has_study:
        columns.append(f"study-level {metric.upper()} [CI]")
    tested = any(r.vs_best or r.vs_baseline for r in runs)
    if tested:
        columns += ["Δ vs best", "Δ vs base policy"]
    if local:
        columns += ["pointing game (strict / near)", "CAM energy in lesion"]
    columns.append("run folder")
    rows, ids = [], []
    for rank, run in enumerate(runs, start=1):
        row = [Cell(str(rank), rank), Cell(run.method),
               Cell(run.policy + (" (baseline)" if run.baseline else "")),
               Cell("" if run.seed is None else str(run.seed), run.seed),
               estimate_cell(run.image.get(metric)), estimate_cell(run.image.get(other))]
        if has_study:
            row.append(estimate_cell(run.study.get(metric)))
        if tested:
            row += [difference_cell(run.vs_best), difference_cell(run.vs_baseline)]
        if local:
            score = local.get(run.folder)
            row += localization_cells(score) if score is not None else [Cell("–"), Cell("–")]
        row.append(Cell(run.folder))
        rows.append(row)
        ids.append(run.folder)
    section.tables.append(Table(columns, rows, ids, sortable=True))
    section.tables.extend(body_part_tables(results))
    return section


def difference_cell(block: dict[str, float]) -> Cell:
    """A paired-bootstrap difference: delta (* when Holm p < 0.05), the Holm p below."""
    if "delta" not in block or "p_holm" not in block:
        return Cell("–")
    star = " *" if significant(block) else ""
    return Cell(f"{block['delta']:+.3f}{star}", block["delta"],
                f"{compact_p(block['p_holm'])} (Holm)")


def localization_cells(score: LocalizationScore) -> list[Cell]:
    """'strict / near' pointing-game rates and the energy share with its ratio to chance."""
    ratio = (score.energy_inside / score.chance_energy if score.chance_energy > 0
             else math.nan)
    return [Cell(f"{score.pointing_game:.2f} / {score.pointing_game_tolerant:.2f}",
                 score.pointing_game),
            Cell(f"{score.energy_inside:.3g}", score.energy_inside, f"{ratio:.1f}× chance")]


def body_part_tables(results: StudyResults) -> list[Table]:
    """Best trial per body part (the study asks for the best policy per body part)."""
    best = results.best_per_body_part()
    if not best:
        return []
    rows = [[Cell(part), Cell(trial.method), Cell(trial.policy),
             estimate_cell(trial.by_part[part])] for part, trial in best.items()]
    return [Table(["body part", "best method", "best policy",
                   f"{results.metric.upper()} [CI]"], rows, sortable=True)]


def run_label(run: RunResult) -> str:
    return run.policy if run.baseline else f"{run.method} {run.policy}"
