"""The report's page model: sections of tables, pictures and notes, rendered by one template.

A section whose inputs are missing is still listed, with a note saying what is missing and how
to produce it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from xrayssl.runs.metrics_file import Estimate


@dataclass
class Cell:
    text: str
    sort: str | float | None = None  # numeric or text key for the sortable table
    detail: str = ""  # shown small under the text (a confidence interval)


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Cell]]
    row_ids: list[str] = field(default_factory=list)
    sortable: bool = False


@dataclass
class Picture:
    uri: str
    caption: str = ""
    width: int | None = None  # CSS pixels; None: natural size up to the column width


@dataclass
class Section:
    id: str
    title: str
    intro: str = ""
    tables: list[Table] = field(default_factory=list)
    pictures: list[Picture] = field(default_factory=list)
    preformatted: list[tuple[str, str]] = field(default_factory=list)  # (heading, text)
    notes: list[str] = field(default_factory=list)
    lead: Picture | None = None  # one picture right under the intro, before everything else
    closing: list[str] = field(default_factory=list)  # paragraphs after tables and pictures


def value_cell(value: float, lo: float = math.nan, hi: float = math.nan) -> Cell:
    """``0.812`` with ``[0.780, 0.845]`` below; a dash where the value is undefined."""
    if not math.isfinite(value):
        return Cell("–", None)
    detail = f"[{lo:.3f}, {hi:.3f}]" if math.isfinite(lo) and math.isfinite(hi) else ""
    return Cell(f"{value:.3f}", value, detail)


def estimate_cell(estimate: Estimate | None) -> Cell:
    if estimate is None or estimate.value is None:
        return Cell("–", None)

    def num(x: float | None) -> float:
        return math.nan if x is None else x

    return value_cell(estimate.value, num(estimate.lo), num(estimate.hi))
