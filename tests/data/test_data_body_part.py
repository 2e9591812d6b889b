"""--body-part names the body part of sources that have none."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from imagefiles import gradient, write_png

from xrayssl.cli import run
from xrayssl.config.study import DataSettings
from xrayssl.data.cache import PreparedCache
from xrayssl.data.sources import load_source
from xrayssl.errors import XraySSLError


def class_folders(root: Path) -> Path:
    for i, label in enumerate(["normal", "abnormal"] * 3):
        write_png(root / label / f"p{i}.png", gradient(24, 24, seed=i))
    return root


def test_folder_images_get_the_named_body_part(tmp_path: Path) -> None:
    root = class_folders(tmp_path / "knee")
    assert {r.body_part for r in load_source(root)} == {"unknown"}
    assert {r.body_part for r in load_source(root, body_part=" Knee")} == {"knee"}
    kept = load_source(root, body_part="knee", body_parts=["knee"])
    assert len(kept) == 6


def test_prepare_cli_writes_the_body_part_into_the_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = class_folders(tmp_path / "knee")
    status = run(["prepare", str(root), "--out", str(tmp_path / "cache"), "--size", "16",
                  "--body-part", "knee", "--quiet", "--workers", "1"])
    assert status == 0, capsys.readouterr().err
    assert PreparedCache.open(tmp_path / "cache").body_parts() == ["knee"]


def test_a_source_with_body_parts_or_a_bad_name_is_refused(tmp_path: Path) -> None:
    images = np.zeros((4, 16, 16), np.uint8)
    labels = np.array([[0], [1], [0], [1]])
    np.savez(tmp_path / "m.npz", train_images=images, train_labels=labels)
    assert {r.body_part for r in load_source(tmp_path / "m.npz", body_part="chest")} == {"chest"}
    with pytest.raises(XraySSLError, match="letters, digits"):
        load_source(tmp_path / "m.npz", body_part="chest x-ray!")
    manifest = tmp_path / "manifest.csv"
    write_png(tmp_path / "a.png", gradient(16, 16))
    manifest.write_text("path,label,body_part\na.png,0,wrist\n")
    with pytest.raises(XraySSLError, match="already names the body part"):
        load_source(manifest, body_part="knee")


def test_study_config_body_part_only_with_a_source(tmp_path: Path) -> None:
    assert DataSettings(source=tmp_path, body_part="Knee").body_part == "knee"
    with pytest.raises(ValueError, match=r"data\.body_part names the images of data\.source"):
        DataSettings(cache=tmp_path, body_part="knee")
