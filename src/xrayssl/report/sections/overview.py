"""Overview: what the study holds and the best policy of each method."""

from __future__ import annotations

from xrayssl.data.cache import PreparedCache
from xrayssl.report.page import Cell, Section, Table, value_cell
from xrayssl.study.results import StudyResults


def overview_section(results: StudyResults, cache: PreparedCache | None = None) -> Section:
    section = Section("overview", "Overview")
    metric = results.metric
    section.intro = (
        f"{len(results.trials)} trial(s) and {len(results.baselines)} baseline(s) found in "
        f"{results.study_dir}. Ranked by {results.level}-level {metric.upper()} of a linear "
        "probe trained on "
        f"{results.fraction:.0%} of the training labels."
    )
    best = results.best_per_method()
    if best:
        section.tables.append(Table(
            ["method", "best policy", metric.upper()],
            [[Cell(m), Cell(t.policy), value_cell(t.value, t.lo, t.hi)] for m, t in best.items()],
        ))
    else:
        section.notes.append("no finished trial with metrics yet")
    section.notes.extend(results.notes)
    return section
