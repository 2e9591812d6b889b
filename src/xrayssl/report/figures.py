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
