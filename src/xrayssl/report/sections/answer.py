"""The answer, first on the page: the policies selected on val, reported on test, with the floors.

Renders ``StudyResults.answer`` (built in ``xrayssl.findings.answer``); nothing is computed here."""

from __future__ import annotations

from matplotlib.figure import Figure

from xrayssl.data.cache import PreparedCache
from xrayssl.evaluate.table import compact_p
from xrayssl.findings.answer_model import REFERENCES, Selected
from xrayssl.findings.model import StudyResults
from xrayssl.findings.results_tables import ANSWER_METHOD
from xrayssl.report.figures import ForestPanel, ForestRow, figure_uri, forest_figure
from xrayssl.report.page import Cell, Picture, Section, Table, value_cell

TITLES = {"base": "Δ vs crop-only base", "raw": "Δ vs raw pixels",
          "random": "Δ vs random init", "supervised": "Δ vs supervised"}


def _difference_cell(s: Selected, reference: str) -> Cell:
    if reference == "base" and s.is_base:
        return Cell("(is the base)")
    d = s.versus.get(reference)
    if d is None:
        return Cell("–")
    return Cell(f"{d.delta:+.3f}", d.delta, f"[{d.lo:+.3f}, {d.hi:+.3f}] {compact_p(d.p)}")


def answer_section(results: StudyResults, cache: PreparedCache | None = None) -> Section | None:
    answer = results.answer
    if answer is None:
        return None
    metric, other = (m.upper() if m == "auroc" else m for m in (answer.metric, answer.other))
    section = Section("answer", "Answer", answer.headline)
    figure = decision_figure(results)
    if figure is not None:
        section.lead = Picture(figure_uri(figure), "every policy on val with its CI (filled: "
                               "the top set), the floors on val as lines, and the selected "
                               "policy's test value as a diamond")
    section.closing.append(f"Protocol: {answer.protocol}. " + ANSWER_METHOD.format(metric=metric))
    rows = []
    for s in answer.selected:
        # Nine columns fit a laptop's 1280 px: the seeds, the top set and the images read as
        # small lines under the cells they describe.
        rows.append([Cell(s.method), Cell(s.body_part or "all", detail=s.protocol),
                     Cell(s.policy, detail=f"{s.seeds_text}; top set on val (P(best)): "
                                           f"{s.top_set_text}"),
                     value_cell(s.test_value, s.test_lo, s.test_hi),
                     value_cell(s.test_other, s.test_other_lo, s.test_other_hi),
                     *[_difference_cell(s, r) for r in REFERENCES]])
    section.tables.append(Table(
        ["method", "body part (images)", "selected on val (seeds, top set)",
         f"test {metric} [CI]", f"test {other} [CI]", *[TITLES[r] for r in REFERENCES]], rows))
    if answer.floors:
        section.tables.append(Table(["floor", f"test {metric} [CI]"], [
            [Cell(f.kind), value_cell(f.test_value, f.test_lo, f.test_hi)]
            for f in answer.floors]))
    section.notes.extend(answer.notes)
    return section


def decision_figure(results: StudyResults) -> Figure | None:
    """The forest plot the answer opens with (None without an answer or a ranking)."""
    answer = results.answer
    if answer is None or not results.policy_rankings:
        return None
    chosen = {s.method: s for s in answer.selected if s.body_part is None}
    floors = [(f"{run.view1} floor", run.value) for run in results.floors]
    panels = []
    for ranking in results.policy_rankings:
        selected = chosen.get(ranking.method)
        panels.append(ForestPanel(
            method=ranking.method,
            rows=[ForestRow(r.policy, r.value, r.lo, r.hi, r.in_top_set) for r in ranking.rows],
            selected=selected.policy if selected else None,
            test=(selected.test_value, selected.test_lo, selected.test_hi) if selected else None,
            floors=floors))
    metric = results.metric.upper() if results.metric == "auroc" else results.metric
    return forest_figure(panels, metric)
