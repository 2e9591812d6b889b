"""The answer, first on the page: the runs selected on val, reported on test, beside the floors.

Renders ``StudyResults.answer`` (built in ``xrayssl.study.answer``); nothing is computed here."""

from __future__ import annotations

from xrayssl.data.cache import PreparedCache
from xrayssl.evaluate.table import compact_p
from xrayssl.report.page import Cell, Section, Table, value_cell
from xrayssl.study.answer import REFERENCES, Difference
from xrayssl.study.results import StudyResults

TITLES = {"base": "Δ vs crop-only base", "raw": "Δ vs raw pixels",
          "random": "Δ vs random init", "supervised": "Δ vs supervised"}


def _difference_cell(d: Difference | None) -> Cell:
    if d is None:
        return Cell("–")
    return Cell(f"{d.delta:+.3f}", d.delta, f"[{d.lo:+.3f}, {d.hi:+.3f}] {compact_p(d.p)}")


def answer_section(results: StudyResults, cache: PreparedCache | None = None) -> Section | None:
    answer = results.answer
    if answer is None:
        return None
    metric, other = (m.upper() if m == "auroc" else m for m in (answer.metric, answer.other))
    section = Section(
        "answer", "Answer",
        f"{answer.headline} Protocol: {answer.protocol}. Δ: paired "
        f"bootstrap of {metric} on the test images (patients resampled), selected minus "
        "reference, over all images. Policies that were not selected are not read on test.")
    rows = []
    for s in answer.selected:
        overall = s.body_part is None
        rows.append([Cell(s.method), Cell(s.body_part or "all"), Cell(s.policy),
                     Cell(str(s.seed)), value_cell(s.test_value, s.test_lo, s.test_hi),
                     value_cell(s.test_other, s.test_other_lo, s.test_other_hi),
                     *[_difference_cell(s.versus.get(r) if overall else None)
                       for r in REFERENCES],
                     Cell(", ".join(s.top_set) if overall else "–")])
    section.tables.append(Table(
        ["method", "body part", "selected on val", "seed", f"test {metric} [CI]",
         f"test {other} [CI]", *[TITLES[r] for r in REFERENCES], "top set (val)"], rows))
    if answer.floors:
        section.tables.append(Table(["floor", f"test {metric} [CI]"], [
            [Cell(f.kind), value_cell(f.test_value, f.test_lo, f.test_hi)]
            for f in answer.floors]))
    section.notes.extend(answer.notes)
    return section
