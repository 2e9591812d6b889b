"""``xrayssl synth``: writes the dataset and the contact sheet; bad input is a clear error."""

from __future__ import annotations

from pathlib import Path

import cv2
from typer.testing import CliRunner

from xrayssl.cli import app


def test_synth_writes_a_dataset_and_a_contact_sheet(tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.png"
    result = CliRunner().invoke(app, [
        "synth", "--out", str(tmp_path / "ds"), "--parts", "elbow,wrist", "--patients", "4",
        "--size", "48", "--seed", "1", "--difficulty", "0.3", "--workers", "1", "--quiet",
        "--sheet", str(sheet)])
    assert result.exit_code == 0, result.output
    paths = (tmp_path / "ds" / "MURA-v1.1" / "train_image_paths.csv").read_text().splitlines()
    assert paths and all(p.split("/")[2] in ("XR_ELBOW", "XR_WRIST") for p in paths)
    image = cv2.imread(str(sheet))
    assert image is not None
    # header strip + one 112 px row per requested part; label column + 2 normals + 5 kinds
    assert image.shape[:2] == (18 + 2 * 112, 64 + 7 * 112)
    b, g, r = (image[..., i].astype(int) for i in range(3))
    assert ((r - b > 100) & (r - g > 80)).any()  # the lesion outlines are drawn


def test_synth_bad_part_is_a_user_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["synth", "--out", str(tmp_path), "--parts", "knee"])
    assert result.exit_code != 0
    assert "unknown body part 'knee'" in str(result.exception)


def test_synth_needs_something_to_do() -> None:
    result = CliRunner().invoke(app, ["synth"])
    assert result.exit_code != 0
    assert "--out" in str(result.exception)
