"""A before/after CLAHE figure: the same images through the cache geometry, without and with."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from xrayssl.atomic import atomic_output
from xrayssl.config.data import ClaheConfig
from xrayssl.data.gray import UnreadableImageError
from xrayssl.data.io import read_image
from xrayssl.data.pixels import geometry, make_clahe, prepare_pixels
from xrayssl.data.records import Record
from xrayssl.errors import XraySSLError


def preview_pairs(
    records: Sequence[Record], size: int, clahe: ClaheConfig, count: int = 6
) -> list[tuple[Record, np.ndarray, np.ndarray]]:
    """Up to ``count`` readable images spread over ``records``: (record, before, after)."""
    if not records:
        raise XraySSLError("no images to preview")
    step = max(1, len(records) // count)
    tool = make_clahe(clahe, size)
    pairs: list[tuple[Record, np.ndarray, np.ndarray]] = []
    for record in list(records[::step]) + list(records):
        if len(pairs) == count:
            break
        if any(record is chosen for chosen, _, _ in pairs):
            continue
        try:
            img = read_image(record.path)
        except UnreadableImageError:
            continue
        pairs.append((record, geometry(img, size), prepare_pixels(img, size, tool)))
    if not pairs:
        raise XraySSLError("none of the images could be read for the preview")
    return pairs


def write_clahe_preview(
    records: Sequence[Record],
    out_file: Path | str,
    size: int = 224,
    clahe: ClaheConfig | None = None,
    count: int = 6,
) -> Path:
    """Write a 2-row figure (top: resized original, bottom: with CLAHE) to ``out_file``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clahe = clahe or ClaheConfig()
    out_file = Path(out_file)
    pairs = preview_pairs(records, size, clahe, count)
    fig, axes = plt.subplots(2, len(pairs), figsize=(2.2 * len(pairs), 4.8), squeeze=False)
    after_title = f"CLAHE clip={clahe.clip:g} tile={clahe.tile}" if clahe.enabled else "no CLAHE"
    for column, (record, before, after) in enumerate(pairs):
        for row, (img, title) in enumerate(((before, "original"), (after, after_title))):
            ax = axes[row][column]
            ax.imshow(img, cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            label = "?" if record.label is None else ("abnormal" if record.label else "normal")
            about = label if record.body_part == "unknown" else f"{record.body_part}, {label}"
            ax.set_title(f"{title}\n{about}" if row == 0 else title, fontsize=8)
    fig.tight_layout()
    try:
        with atomic_output(out_file) as tmp:
            fig.savefig(tmp, dpi=110, format=out_file.suffix.lstrip(".") or "png")
    finally:
        plt.close(fig)
    return out_file
