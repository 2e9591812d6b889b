"""The before/after CLAHE figure shows the same images with and without CLAHE."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from imagefiles import gradient, write_png
from PIL import Image

from xrayssl.config.data import ClaheConfig
from xrayssl.data.preview import preview_pairs, write_clahe_preview
from xrayssl.data.records import Record


def test_preview_pairs_skip_unreadable_and_differ(tmp_path: Path) -> None:
    (tmp_path / "bad.png").write_text("x")
    records = [Record(path=str(tmp_path / "bad.png"), label=0)] + [
        Record(path=str(write_png(tmp_path / f"{i}.png", gradient(40, 30, seed=i))), label=i % 2)
        for i in range(4)
    ]
    pairs = preview_pairs(records, 32, ClaheConfig(clip=4.0, tile=2), count=3)
    assert len(pairs) == 3 and all(r.path != str(tmp_path / "bad.png") for r, _, _ in pairs)
    for _, before, after in pairs:
        assert before.shape == after.shape == (32, 32)
        assert not np.array_equal(before, after)


def test_write_clahe_preview(tmp_path: Path) -> None:
    records = [Record(path=str(write_png(tmp_path / f"{i}.png", gradient(seed=i))), label=1)
               for i in range(2)]
    out = write_clahe_preview(records, tmp_path / "fig" / "preview.png", size=32)
    with Image.open(out) as figure:
        assert figure.width > 100 and figure.height > 100
    assert not list((tmp_path / "fig").glob(".*"))  # no temporary file left behind
