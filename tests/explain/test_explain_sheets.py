from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from xrayssl.explain.sheets import (
    Case,
    ExplainedModel,
    comparison_sheet,
    save_overlays,
    select_cases,
)


def test_select_cases_picks_tp_fn_fp_in_confidence_order() -> None:
    labels = np.array([1, 1, 1, 0, 0, 1, 0])
    scores = np.array([0.9, 0.2, 0.7, 0.8, 0.1, 0.4, 0.6])
    cases = select_cases(labels, scores, per_kind=2)
    assert cases == [
        Case(0, "TP"), Case(2, "TP"),
        Case(1, "FN"), Case(5, "FN"),
        Case(3, "FP"), Case(6, "FP"),
    ]
    probe_free = select_cases(labels, None, per_kind=1)
    assert probe_free == [Case(0, "abnormal"), Case(3, "normal")]
    unlabelled = select_cases(np.full(4, -1), np.array([0.1, 0.9, 0.5, 0.7]), per_kind=1)
    assert unlabelled == [Case(1, "unlabelled"), Case(3, "unlabelled")]


def test_overlays_and_comparison_sheet_are_written(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (32, 32), dtype=np.uint8) for _ in range(3)]
    masks = np.zeros((3, 32, 32), dtype=np.uint8)
    masks[0, 5:10, 5:10] = 255
    cams = rng.random((3, 32, 32)).astype(np.float32)
    paths = save_overlays(tmp_path / "overlays", images, cams, ["a", "b", "c"])
    assert [p.name for p in paths] == ["a.png", "b.png", "c.png"]
    assert Image.open(paths[0]).size == (32, 32)
    models = [ExplainedModel("crop", cams, np.array([0.9, 0.1, 0.8])),
              ExplainedModel("crop+blur", cams[::-1].copy(), None)]
    sheet = comparison_sheet(tmp_path / "sheet.png", images,
                             [Case(0, "TP"), Case(1, "FN"), Case(2, "FP")], models, masks)
    with Image.open(sheet) as picture:
        width, height = picture.size
    # three columns (image + two models) by three rows of cells, 1.9 in at 100 dpi each
    assert 3 * 150 < width < 3 * 200 and 3 * 150 < height < 3 * 220
