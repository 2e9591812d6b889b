"""Figures for the report, returned as ``data:image/png;base64`` URIs so the page is one file."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

DPI = 100


def png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def file_uri(path: Path) -> str:
    return png_uri(path.read_bytes())


def figure_uri(figure: Figure) -> str:
    buffer = io.BytesIO()
    FigureCanvasAgg(figure)
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return png_uri(buffer.getvalue())


def array_uri(image: np.ndarray) -> str:
    """(H, W) or (H, W, 3) uint8 -> PNG URI."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", optimize=True)
    return png_uri(buffer.getvalue())


def tile(images: Sequence[np.ndarray], gap: int = 2) -> np.ndarray:
    """Gray (H, W) uint8 images side by side, white gaps -> one (H, W_total) uint8 strip."""
    height = max(image.shape[0] for image in images)
    parts: list[np.ndarray] = []
    for image in images:
        padded = np.full((height, image.shape[1]), 255, dtype=np.uint8)
        padded[: image.shape[0]] = image
        if parts:
            parts.append(np.full((height, gap), 255, dtype=np.uint8))
        parts.append(padded)
    return np.concatenate(parts, axis=1)


@dataclass
class Bar:
    group: str  # method
    label: str  # op
    value: float  # mean change of the objective when the op is added
    n: int  # pairs averaged


def effect_figure(bars: Sequence[Bar], metric: str) -> Figure:
    """Horizontal bars, one per (op, method), zero line, labelled with the number of pairs."""
    groups = sorted({b.group for b in bars})
    labels = sorted({b.label for b in bars})
    height = 0.5 + 0.32 * len(labels) * max(len(groups), 1)
    figure = Figure(figsize=(6.4, max(height, 2.0)))
    axis = figure.subplots()
    step = 0.8 / max(len(groups), 1)
    colors = ["#3b6ea8", "#d9822b", "#3f9b5a", "#a23b72", "#6c6c6c"]
    for g, group in enumerate(groups):
        ys, values, counts = [], [], []
        for position, label in enumerate(labels):
            match = [b for b in bars if b.group == group and b.label == label]
            if match:
                ys.append(position + g * step)
                values.append(match[0].value)
                counts.append(match[0].n)
        axis.barh(ys, values, height=step * 0.9, color=colors[g % len(colors)], label=group)
        for y, value, count in zip(ys, values, counts, strict=True):
            axis.text(value, y, f" n={count}", va="center", fontsize=7,
                      ha="left" if value >= 0 else "right")
    axis.set_yticks([p + step * (len(groups) - 1) / 2 for p in range(len(labels))], labels)
    axis.axvline(0, color="black", linewidth=0.8)
    axis.set_xlabel(f"mean change in {metric} when the op is added")
    axis.invert_yaxis()
    if len(groups) > 1:
        axis.legend(fontsize=8, loc="best")
    axis.grid(axis="x", alpha=0.3)
    return figure


def heatmap_figure(matrix: np.ndarray, rows: Sequence[str], cols: Sequence[str], title: str,
                   metric: str) -> Figure:
    """SimCLR Figure 5 style: op on view 1 (rows) x op on view 2 (columns), values written in."""
    figure = Figure(figsize=(1.0 + 0.75 * len(cols), 0.8 + 0.6 * len(rows)))
    axis = figure.subplots()
    finite = matrix[np.isfinite(matrix)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    shown = axis.imshow(np.ma.masked_invalid(matrix), cmap="viridis", vmin=lo, vmax=hi)
    for r in range(len(rows)):
        for c in range(len(cols)):
            value = matrix[r, c]
            if math.isfinite(value):
                axis.text(c, r, f"{value:.3f}", ha="center", va="center", fontsize=7,
                          color="white" if value < (lo + hi) / 2 else "black")
    axis.set_xticks(range(len(cols)), cols, rotation=45, ha="right", fontsize=8)
    axis.set_yticks(range(len(rows)), rows, fontsize=8)
    axis.set_xlabel("view 2")
    axis.set_ylabel("view 1")
    axis.set_title(title, fontsize=9)
    figure.colorbar(shown, ax=axis, label=metric, shrink=0.8)
    return figure


@dataclass
class Curve:
    label: str
    fractions: list[float]
    values: list[float]
    lo: list[float]
    hi: list[float]
    dashed: bool = False


def curves_figure(curves: Sequence[Curve], metric: str) -> Figure:
    """Label-efficiency: metric against the fraction of training labels (log axis), with CIs."""
    figure = Figure(figsize=(6.4, 3.6))
    axis = figure.subplots()
    for curve in curves:
        line = axis.plot(curve.fractions, curve.values, marker="o", markersize=3,
                         linestyle="--" if curve.dashed else "-", label=curve.label)[0]
        if all(map(math.isfinite, curve.lo + curve.hi)):
            axis.fill_between(curve.fractions, curve.lo, curve.hi, alpha=0.12,
                              color=line.get_color())
    axis.set_xscale("log")
    fractions = sorted({f for c in curves for f in c.fractions})
    axis.set_xticks(fractions, [f"{f:g}" for f in fractions])
    axis.minorticks_off()
    axis.set_xlabel("fraction of training labels")
    axis.set_ylabel(metric)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return figure


@dataclass
class ForestRow:
    label: str
    value: float
    lo: float
    hi: float
    in_top_set: bool | None  # None: not pooled, no top set


@dataclass
class ForestPanel:
    method: str
    rows: list[ForestRow]  # best first, on the selection data
    selected: str | None  # the row whose test value is drawn beside it
    test: tuple[float, float, float] | None  # the selected policy on test: value, lo, hi
    floors: list[tuple[str, float]]  # reference lines: (name, value on the selection data)


def forest_figure(panels: Sequence[ForestPanel], metric: str, selection: str = "val") -> Figure:
    """The decision at a glance: per method every policy's value on the selection data with
    its CI (filled: in the top set), the floors as dashed lines, the selected policy's test
    value as a diamond beside it."""
    heights = [max(len(p.rows), 1) for p in panels]
    figure = Figure(figsize=(7.2, 0.9 + sum(0.32 * h + 0.6 for h in heights)),
                    layout="constrained")  # titles and tick labels never overlap
    axes = figure.subplots(len(panels), 1, squeeze=False, sharex=True,
                           gridspec_kw={"height_ratios": heights})[:, 0]
    finite = [v for p in panels for r in p.rows for v in (r.lo, r.hi, r.value)
              if math.isfinite(v)]
    finite += [v for p in panels for _, v in p.floors if math.isfinite(v)]
    finite += [v for p in panels if p.test for v in p.test if math.isfinite(v)]
    span = (min(finite), max(finite)) if finite else (0.0, 1.0)
    pad = 0.05 * max(span[1] - span[0], 0.02)
    styles = ["--", ":", "-."]
    for axis, panel in zip(axes, panels, strict=True):
        ys = list(range(len(panel.rows)))
        for y, row in zip(ys, panel.rows, strict=True):
            top = row.in_top_set is not False
            color = "#3b6ea8" if top else "#9aa6b2"
            if math.isfinite(row.lo) and math.isfinite(row.hi):
                axis.plot([row.lo, row.hi], [y, y], color=color, linewidth=2)
            axis.plot([row.value], [y], "o", color=color, markersize=6,
                      markerfacecolor=color if top else "white")
            if row.label == panel.selected and panel.test is not None:
                value, lo, hi = panel.test
                axis.plot([lo, hi], [y + 0.3, y + 0.3], color="#d9822b", linewidth=1.5)
                axis.plot([value], [y + 0.3], "D", color="#d9822b", markersize=5,
                          label="selected, on test")
        for k, (name, value) in enumerate(panel.floors):
            if math.isfinite(value):
                axis.axvline(value, color="#6c6c6c", linestyle=styles[k % len(styles)],
                             linewidth=1, label=f"{name} ({selection})")
        axis.set_yticks(ys, [r.label for r in panel.rows], fontsize=8)
        axis.set_ylim(len(panel.rows) - 0.4, -0.6)
        axis.set_xlim(span[0] - pad, span[1] + pad)
        axis.set_title(f"{panel.method}: {selection} {metric} with 95% CI (filled: top set)",
                       fontsize=9, loc="left")
        axis.grid(axis="x", alpha=0.3)
        if panel.floors or panel.test is not None:
            axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    axes[-1].set_xlabel(metric)
    return figure
