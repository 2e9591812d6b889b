"""What the ops did: the per-op effect chart, the pairwise grid and the label-efficiency curves."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from xrayssl.data.cache import PreparedCache
from xrayssl.findings.model import StudyResults
from xrayssl.report.figures import (
    Bar,
    Curve,
    curves_figure,
    effect_figure,
    figure_uri,
    heatmap_figure,
)
from xrayssl.report.page import Picture, Section
from xrayssl.report.sections.ranking import run_label


def effect_section(results: StudyResults, cache: PreparedCache | None = None) -> Section:
    metric = results.metric.upper()
    section = Section("effects", "Per-op effect",
                      f"For each op: the mean change in {metric} between a policy with the op and "
                      "the same policy without it (same method and seed); n = pairs averaged.")
    figure = op_effect_figure(results)
    if figure is not None:
        section.pictures.append(Picture(figure_uri(figure)))
    else:
        section.notes.append("no pair of policies that differ by exactly one op (the per-op "
                             "effect needs a subsets or ablation study)")
    return section


def pairwise_section(results: StudyResults,
                     cache: PreparedCache | None = None) -> Section | None:
    if not results.pairwise:
        return None
    section = Section("pairwise", "Pairwise: one op per view",
                      "Each cell: the op on view 1 (row) and on view 2 (column), the SimCLR "
                      "paper's Figure 5 layout; the mean over seeds.")
    for method, figure in pairwise_figures(results).items():
        section.pictures.append(Picture(figure_uri(figure), method))
    return section


def efficiency_section(results: StudyResults, cache: PreparedCache | None = None) -> Section:
    metric = results.metric.upper()
    section = Section("efficiency", "Label efficiency",
                      f"{metric} of the linear probe trained on a fraction of the training "
                      f"labels (mean over subsets, with CIs): the best "
                      f"{results.report.efficiency_trials} trials per method, and the baselines "
                      "dashed.")
    figure = efficiency_figure(results)
    if figure is not None:
        section.pictures.append(Picture(figure_uri(figure)))
    else:
        section.notes.append("no run was evaluated at more than one label fraction")
    return section


def _num(value: float | None) -> float:
    return float("nan") if value is None else value


# The figures themselves, shared by the page and the figure files of ``results/``.


def op_effect_figure(results: StudyResults) -> Figure | None:
    bars = [Bar(e.method, e.op, e.mean_change, e.n_pairs)
            for e in results.op_effects if not e.pooled]
    return effect_figure(bars, results.metric.upper()) if bars else None


def pairwise_figures(results: StudyResults) -> dict[str, Figure]:
    figures = {}
    for method in sorted({c.method for c in results.pairwise}):
        mine = [c for c in results.pairwise if c.method == method]
        rows = sorted({c.view1_op for c in mine})
        cols = sorted({c.view2_op for c in mine})
        matrix = np.full((len(rows), len(cols)), np.nan)
        for cell in mine:
            matrix[rows.index(cell.view1_op), cols.index(cell.view2_op)] = cell.value
        figures[method] = heatmap_figure(matrix, rows, cols, method, results.metric.upper())
    return figures


def efficiency_figure(results: StudyResults) -> Figure | None:
    curves: list[Curve] = []
    for run in results.label_efficiency():
        estimates = list(run.by_fraction.values())
        curves.append(Curve(run_label(run), list(run.by_fraction),
                            [_num(e.value) for e in estimates], [_num(e.lo) for e in estimates],
                            [_num(e.hi) for e in estimates], dashed=run.is_floor))
    return curves_figure(curves, results.metric.upper()) if curves else None
