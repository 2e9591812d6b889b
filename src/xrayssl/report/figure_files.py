"""The study's figures as files for a paper: PNG and SVG in ``results/figures/``.

The same figures as the report's: the decision at a glance (``report.sections.answer``), the
per-op effect, the pairwise grid per method and the label-efficiency curves
(``report.sections.effects``), each where the study has the data.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from xrayssl.atomic import atomic_output
from xrayssl.findings.model import StudyResults
from xrayssl.report.figures import DPI
from xrayssl.report.sections.answer import decision_figure
from xrayssl.report.sections.effects import (
    efficiency_figure,
    op_effect_figure,
    pairwise_figures,
)
from xrayssl.runs.folder import StudyFolder

FORMATS = ("png", "svg")


def study_figures(results: StudyResults) -> dict[str, Figure]:
    figures: dict[str, Figure] = {}
    decision = decision_figure(results)
    if decision is not None:
        figures["decision"] = decision
    effect = op_effect_figure(results)
    if effect is not None:
        figures["op_effects"] = effect
    for method, figure in pairwise_figures(results).items():
        figures[f"pairwise_{method}"] = figure
    efficiency = efficiency_figure(results)
    if efficiency is not None:
        figures["label_efficiency"] = efficiency
    return figures


def write_figures(results: StudyResults) -> list[Path]:
    """Every figure of the study as PNG and SVG; returns the files written."""
    folder = StudyFolder(results.study_dir).figures
    written = []
    for name, figure in study_figures(results).items():
        FigureCanvasAgg(figure)
        for fmt in FORMATS:
            path = folder / f"{name}.{fmt}"
            with atomic_output(path) as tmp:
                figure.savefig(tmp, format=fmt, dpi=DPI, bbox_inches="tight")
            written.append(path)
    return written
