"""Successive halving: each policy's val value at every rung, whether it went on, and how well
the short budget predicts the long one (Kendall's tau between the rungs' rankings).

Renders ``StudyResults.rungs`` (built in ``xrayssl.findings.rung_results``); nothing is computed
here."""

from __future__ import annotations

from xrayssl.data.cache import PreparedCache
from xrayssl.findings.model import StudyResults
from xrayssl.findings.rung_results import MethodRungTable, RungCell, epochs_label
from xrayssl.report.page import Cell, Section, Table


def _cell(cell: RungCell | None) -> Cell:
    if cell is None:
        return Cell("–")
    went = {True: "promoted", False: "stopped", None: ""}[cell.promoted]
    seeds = f"{cell.seeds} seed{'s' if cell.seeds != 1 else ''}"
    return Cell(f"{cell.value:.3f}", cell.value, f"{went}, {seeds}" if went else seeds)


def rung_table(table: MethodRungTable) -> Table:
    rungs = list(table.epochs)
    rows = [[Cell(table.method), Cell(policy.label),
             *[_cell(table.cells.get(policy, {}).get(rung)) for rung in rungs]]
            for policy in table.policies]
    return Table(["method", "policy", *[epochs_label(table.epochs[r]) for r in rungs]], rows,
                 sortable=True)


def rungs_section(results: StudyResults, cache: PreparedCache | None = None) -> Section | None:
    if not results.rungs:
        return None
    metric = results.metric.upper() if results.metric == "auroc" else results.metric
    section = Section(
        "rungs", "Rungs (successive halving)",
        f"Every policy pretrained first for the shortest budget; the best of each rung went on "
        f"to the next, pretrained again from scratch. Cells: val {metric}, the mean over the "
        "rung's seeds; promoted = went on to the next rung. Kendall's tau compares the "
        "rankings of two rungs over the policies measured at both; with keep below 1 the later "
        "rung holds only the survivors of the earlier one, so tau there is read among the best "
        "policies alone (keep: 1 measures it over all of them).")
    for table in results.rungs:
        section.tables.append(rung_table(table))
    for table in results.rungs:
        first_last = table.first_last
        if first_last is not None:
            section.notes.append(first_last.sentence + " (first and last rung).")
        section.notes.extend(t.sentence + "." for t in table.taus if t is not first_last)
    return section
