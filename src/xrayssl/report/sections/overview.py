"""Overview: what the study holds and the policy selected on val for each method, over its
seeds (the first of the pooled ranking, which the answer selects)."""

from __future__ import annotations

from xrayssl.data.cache import PreparedCache
from xrayssl.findings.model import StudyResults
from xrayssl.report.page import Cell, Section, Table, value_cell


def overview_section(results: StudyResults, cache: PreparedCache | None = None) -> Section:
    section = Section("overview", "Overview")
    metric = results.metric
    section.intro = (
        f"{len(results.trials)} trial(s) and {len(results.floors)} floor(s) found in "
        f"{results.study_dir}. Ranked by {results.level}-level {metric.upper()} of a linear "
        "probe trained on "
        f"{results.fraction:.0%} of the training labels."
    )
    rankings = results.policy_rankings
    if rankings:
        section.tables.append(Table(
            ["method", "selected on val", "seeds", f"val {metric.upper()} (seeds pooled)"],
            [[Cell(r.method), Cell(r.best.policy), Cell(str(r.best.seeds), r.best.seeds),
              value_cell(r.best.value, r.best.lo, r.best.hi)] for r in rankings],
        ))
    else:
        section.notes.append("no finished trial with metrics yet")
    section.notes.extend(results.notes)
    return section
