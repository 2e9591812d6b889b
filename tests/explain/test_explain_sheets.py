from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from xrayssl.explain.sheets import (
    Case,
    ExplainedModel,
    cell_note,
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


def test_column_titles_are_short_and_wrapped_to_the_cell() -> None:
    from xrayssl.explain.sheets import column_title

    title = column_title(
        "byol random_resized_crop(scale=0.3-1)+gaussian_blur+chessboard(grid=4-8,p=0.5) "
        "(byol-crop-blur-chessboard-s0-9f3a)", width=31)
    lines = title.split("\n")
    assert lines[0] == "byol"
    assert "random_resized_crop" not in title and "gaussian_blur" not in title
    assert "".join(lines[1:-1]) == "crop(scale=0.3-1)+blur+chessboard(grid=4-8,p=0.5)"
    assert lines[-1].startswith("byol-crop") and all(len(line) <= 31 for line in lines)
    two_views = column_title("byol crop+flip | crop+blur", width=31)
    assert two_views == "byol\ncrop+flip | crop+blur"


def test_a_sheet_of_some_models_says_why_on_the_sheet(tmp_path: Path) -> None:
    images = [np.full((16, 16), 100, np.uint8) for _ in range(2)]
    cams = np.random.default_rng(0).random((2, 16, 16))
    model = ExplainedModel("simclr crop", cams, np.array([0.9, 0.1]))
    plain = comparison_sheet(tmp_path / "a.png", images, [Case(0, "TP")], [model])
    noted = comparison_sheet(tmp_path / "b.png", images, [Case(0, "TP")], [model],
                             caption="1 of 3 models: the best of each method")
    with Image.open(plain) as a, Image.open(noted) as b:
        assert b.size[1] > a.size[1]  # room for the caption above the grid


def test_a_cell_says_where_its_peak_fell_and_an_empty_cam_says_so() -> None:
    mask = np.zeros((8, 8), np.uint8)
    mask[1:3, 1:3] = 255
    cam = np.zeros((8, 8), np.float32)
    cam[2, 2] = 1.0
    assert cell_note(cam, mask, 0.914) == "p=0.91  peak in lesion"
    cam[6, 6] = 2.0
    assert cell_note(cam, mask, None) == "peak outside"
    assert cell_note(cam, None, 0.5) == "p=0.50"
    # No positive evidence: the argmax would be pixel (0, 0), which is no peak.
    mask[0, 0] = 255
    assert cell_note(np.zeros((8, 8)), mask, 0.2) == "p=0.20  empty CAM"
