"""Pictures of CAMs: one overlay PNG per image, and a comparison sheet of the same images
(true positives, false negatives, false positives) across several encoders side by side."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from xrayssl.augment.spec import SHORT_NAMES
from xrayssl.explain.gradcam import overlay
from xrayssl.explain.localization import is_empty_cam, pointing_game_hit

CaseKind = Literal["TP", "FN", "FP", "abnormal", "normal", "unlabelled"]

CASE_TITLES: dict[str, str] = {
    "TP": "true positive",
    "FN": "false negative",
    "FP": "false positive",
    "abnormal": "abnormal",
    "normal": "normal",
    "unlabelled": "unlabelled",
}


@dataclass(frozen=True)
class Case:
    """One row of a comparison sheet: a position in the explained image list and its kind."""

    position: int
    kind: CaseKind


def select_cases(
    labels: np.ndarray,
    scores: np.ndarray | None,
    per_kind: int = 3,
    threshold: float = 0.5,
) -> list[Case]:
    """Pick rows for a sheet from one reference model's scores.

    With scores: the most confident true positives, the worst-missed false negatives and the
    most confident false positives, ``per_kind`` of each (fewer when there are fewer).
    Without scores (probe-free): the first ``per_kind`` abnormal and normal images.
    """
    labels = np.asarray(labels)
    if not np.any(labels >= 0):  # no labels: the highest-scored images, else the first ones
        order = np.arange(len(labels)) if scores is None else np.argsort(-np.asarray(scores),
                                                                          kind="stable")
        return [Case(int(i), "unlabelled") for i in order[: 2 * per_kind]]
    if scores is None:
        abnormal = np.flatnonzero(labels == 1)[:per_kind]
        normal = np.flatnonzero(labels == 0)[:per_kind]
        return [Case(int(i), "abnormal") for i in abnormal] + [
            Case(int(i), "normal") for i in normal
        ]
    scores = np.asarray(scores)
    predicted = scores >= threshold
    chosen: list[Case] = []
    groups: list[tuple[CaseKind, np.ndarray, bool]] = [
        ("TP", (labels == 1) & predicted, True),  # highest score first
        ("FN", (labels == 1) & ~predicted, False),  # lowest score first: the clearest misses
        ("FP", (labels == 0) & predicted, True),
    ]
    for kind, member, highest_first in groups:
        candidates = np.flatnonzero(member)
        order = np.argsort(scores[candidates], kind="stable")
        if highest_first:
            order = order[::-1]
        chosen.extend(Case(int(candidates[i]), kind) for i in order[:per_kind])
    return chosen


# Full op names as a spec's canonical form writes them -> the short names people type.
TITLE_FONT = 8  # points


def _fill(pieces: Sequence[str], width: int) -> list[str]:
    lines: list[str] = []
    for piece in pieces:
        if lines and len(lines[-1]) + len(piece) <= width:
            lines[-1] += piece
        else:
            lines.append(piece)
    return lines


def column_title(name: str, width: int) -> str:
    """A sheet column's title: short op names, wrapped at ``+`` and ``|`` to ``width``
    characters, so that neighbouring titles never run into each other.

    ``"simclr random_resized_crop+chessboard(p=1) (run-folder)"`` -> ``simclr`` /
    ``crop+chessboard(p=1)`` / ``(run-folder)`` on three lines.
    """
    extra = ""
    found = re.search(r" \(([^()]*(?:\([^()]*\))?[^()]*)\)$", name)
    if found and " " in name[: found.start()]:  # "method policy (folder)": the folder last
        name, extra = name[: found.start()], found.group(1)
    for full, short in SHORT_NAMES.items():
        name = name.replace(full, short)
    method, _, policy = name.partition(" ")
    pieces = re.findall(r"[^+|]+[+|]?", policy.replace(" | ", "|"))
    lines = [method, *_fill([p.replace("|", " | ") for p in pieces], width)] if policy else [
        method]
    if extra:
        lines.append(extra if len(extra) <= width else extra[: width - 1] + "…")
    return "\n".join(line for line in lines if line)


@dataclass
class ExplainedModel:
    """One column of a sheet: CAMs (N, H, W) for the shared image list, and its scores."""

    name: str
    cams: np.ndarray
    scores: np.ndarray | None


def save_overlays(
    out_dir: Path, images: Sequence[np.ndarray], cams: np.ndarray, names: Sequence[str]
) -> list[Path]:
    """Write ``<name>.png`` (RGB heat-map overlay) for every image; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for image, cam, name in zip(images, cams, names, strict=True):
        path = out_dir / f"{name}.png"
        Image.fromarray(overlay(image, cam)).save(path)
        paths.append(path)
    return paths


def cell_note(cam: np.ndarray, mask: np.ndarray | None, score: float | None) -> str:
    """The line under a CAM cell: the probability, then where the peak fell (or "empty CAM")."""
    notes = [] if score is None else [f"p={score:.2f}"]
    if is_empty_cam(cam):
        notes.append("empty CAM")
    elif mask is not None:
        notes.append("peak in lesion" if pointing_game_hit(cam, mask) else "peak outside")
    return "  ".join(notes)


def comparison_sheet(
    path: Path,
    images: Sequence[np.ndarray],
    cases: Sequence[Case],
    models: Sequence[ExplainedModel],
    masks: np.ndarray | None = None,
    image_labels: Sequence[str] | None = None,
    cell_inches: float = 1.9,
    caption: str | None = None,
) -> Path:
    """One PNG: a row per case, the image (with the lesion outline) then one CAM per model.

    Each CAM cell shows the model's abnormality probability and, when a mask exists, whether
    the CAM's peak (marked +) falls in the lesion; a CAM with no positive value says "empty
    CAM" and has no +. Column titles are wrapped to the cell;
    ``caption`` (e.g. which models the columns are) is written above the grid.
    """
    rows = max(len(cases), 1)
    cols = 1 + len(models)
    # Characters of TITLE_FONT-point text that fit a cell (a glyph is ~0.6 em wide).
    width = max(10, int(cell_inches * 72 / (TITLE_FONT * 0.6)))
    titles = [column_title(model.name, width) for model in models]
    title_lines = max([t.count("\n") + 1 for t in titles] or [1])
    top = 0.14 * (title_lines - 1) + (0.3 if caption else 0.0)
    figure = Figure(figsize=(cell_inches * cols, cell_inches * rows + 0.4 + top), dpi=100)
    FigureCanvasAgg(figure)
    grid = figure.subplots(rows, cols, squeeze=False)
    for axis in grid.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    if not cases:
        grid[0, 0].text(0.5, 0.5, "no cases to show", ha="center", va="center")
    for row, case in enumerate(cases):
        image = images[case.position]
        mask = masks[case.position] if masks is not None else None
        has_lesion = mask is not None and bool(np.any(mask > 0))
        first = grid[row, 0]
        first.imshow(image, cmap="gray", vmin=0, vmax=255)
        if has_lesion and mask is not None:
            first.contour(mask > 0, levels=[0.5], colors=["#00e5ff"], linewidths=0.8)
        label = image_labels[case.position] if image_labels is not None else f"#{case.position}"
        first.set_ylabel(f"{CASE_TITLES[case.kind]}\n{label}", fontsize=8)
        if row == 0:
            first.set_title("image (lesion outlined)" if masks is not None else "image",
                            fontsize=8)
        for col, model in enumerate(models, start=1):
            axis = grid[row, col]
            cam = model.cams[case.position]
            axis.imshow(overlay(image, cam))
            if not is_empty_cam(cam):  # an empty CAM has no peak to mark
                peak_row, peak_col = np.unravel_index(int(np.argmax(cam)), cam.shape)
                axis.plot([peak_col], [peak_row], marker="+", color="white", markersize=8,
                          mew=1.5)
            score = model.scores[case.position] if model.scores is not None else None
            axis.set_xlabel(cell_note(cam, mask if has_lesion else None, score), fontsize=7)
            if row == 0:
                axis.set_title(titles[col - 1], fontsize=TITLE_FONT)
    if caption:
        figure.suptitle(caption, fontsize=TITLE_FONT)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return path
