"""Preview grids and the `xrayssl augment` commands."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import MakeCache
from PIL import Image
from typer.testing import CliRunner

from xrayssl.augment.ops import OPS
from xrayssl.augment.preview import draw_views, load_preview_images, save_preview
from xrayssl.augment.spec import parse_policy
from xrayssl.cli import app
from xrayssl.errors import XraySSLError

runner = CliRunner()


def test_draws_differ_and_repeat_with_the_seed() -> None:
    images = np.random.default_rng(0).integers(0, 256, (2, 24, 24), dtype=np.uint8)
    policy = parse_policy("rotation(p=1,deg=40)")
    views = draw_views(images, policy, draws=3, seed=1)
    assert views.shape == (2, 3, 24, 24)
    assert not torch.equal(views[0, 0], views[0, 1])
    assert torch.equal(views, draw_views(images, policy, draws=3, seed=1))


def test_preview_grid_is_a_grey_png_with_a_column_per_draw(tmp_path: Path) -> None:
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32), dtype=np.uint8)
    out = save_preview(images, parse_policy("flip"), tmp_path / "grid.png", draws=4)
    with Image.open(out) as grid:
        assert grid.mode == "L"
        width, height = grid.size
    assert width > height  # 5 columns, 3 rows
    assert not list(tmp_path.glob(".*tmp*"))  # the temporary file was renamed away


def test_cli_preview_from_a_cache(tmp_path: Path, make_cache: MakeCache) -> None:
    cache = make_cache(n=8, size=32)
    out = tmp_path / "grid.png"
    result = runner.invoke(app, ["augment", "preview", "--policy", "crop+chessboard(p=1)",
                                 "--images", str(cache.root), "--out", str(out),
                                 "--n-images", "2", "--draws", "3", "--size", "32"])
    assert result.exit_code == 0, result.output
    assert out.is_file() and "random_resized_crop+chessboard(p=1)" in result.output


def test_images_from_a_folder_skip_mask_folders(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for name in ("a.png", "sub/b.png"):
        path = tmp_path / "imgs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), rng.integers(0, 256, (20, 30), dtype=np.uint8))
    masks = tmp_path / "imgs" / "MURA-v1.1-masks"
    masks.mkdir()
    cv2.imwrite(str(masks / "m.png"), np.zeros((20, 30), np.uint8))
    images = load_preview_images(tmp_path / "imgs", n_images=10, size=16, seed=0)
    assert images.shape == (2, 16, 16) and images.dtype == np.uint8
    (tmp_path / "empty").mkdir()
    with pytest.raises(XraySSLError, match="no image files"):
        load_preview_images(tmp_path / "empty", n_images=1, size=16, seed=0)
    with pytest.raises(XraySSLError, match="neither a prepared cache nor a folder"):
        load_preview_images(tmp_path / "missing", n_images=1, size=16, seed=0)


def test_cli_preview_reports_a_bad_spec_before_reading_images(tmp_path: Path) -> None:
    result = runner.invoke(app, ["augment", "preview", "--policy", "flip+chesboard",
                                 "--images", str(tmp_path / "nowhere"), "--out",
                                 str(tmp_path / "g.png")])
    assert isinstance(result.exception, XraySSLError)
    assert "Did you mean 'chessboard'" in str(result.exception)


def test_cli_list_shows_every_op_and_its_parameters() -> None:
    result = runner.invoke(app, ["augment", "list"])
    assert result.exit_code == 0
    for name in OPS.names():
        assert f"\n{name}" in "\n" + result.output
    assert "grid=4-8" in result.output and "fill=zero" in result.output
    lines = {line.split(":", 1)[0]: line for line in result.output.splitlines()}
    assert "seed study's chess board" in lines["chessboard"]  # which of the two the seed used
    assert "not the seed study's chess board" in lines["checkerboard_mask"]


def test_cli_preview_of_two_views_draws_a_row_per_view_at_the_cache_size(
    tmp_path: Path, make_cache: MakeCache
) -> None:
    cache = make_cache(n=8, size=32)
    one, two = tmp_path / "one.png", tmp_path / "two.png"
    for policy, out in (("flip", one), ("crop | flip+chessboard(p=1)", two)):
        result = runner.invoke(app, ["augment", "preview", "--policy", policy, "--images",
                                     str(cache.root), "--out", str(out), "--n-images", "2",
                                     "--draws", "2"])
        assert result.exit_code == 0, result.output
        assert "of 32 px" in result.output  # the cache's side, not an upscale to 224
    assert "random_resized_crop | flip+chessboard(p=1)" in result.output
    assert "per view" in result.output
    with Image.open(one) as single, Image.open(two) as pair:
        assert single.size[0] == pair.size[0]  # same columns
        assert pair.size[1] > 1.6 * single.size[1]  # twice the rows: view 1 and view 2


def test_an_empty_policy_is_an_error_not_identity(tmp_path: Path, make_cache: MakeCache) -> None:
    cache = make_cache(n=8, size=32)
    for policy in ("", "  ", "crop | "):
        result = runner.invoke(app, ["augment", "preview", "--policy", policy, "--images",
                                     str(cache.root), "--out", str(tmp_path / "g.png")])
        assert result.exit_code != 0
        assert "identity" in str(result.exception)
    assert not (tmp_path / "g.png").exists()
