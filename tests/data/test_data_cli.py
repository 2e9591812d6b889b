"""`xrayssl prepare` end to end: summary, reuse, preview, config errors naming the field."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from imagefiles import gradient, write_png

from xrayssl.cli import main
from xrayssl.data.cache import PreparedCache


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def xrayssl(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> object:
    """Run the console entry point in this process (no interpreter start per call)."""

    def run(*args: str) -> Ran:
        monkeypatch.setattr(sys, "argv", ["xrayssl", *args])
        code = 0
        try:
            main()
        except SystemExit as stop:
            code = int(stop.code or 0)
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return run


def make_folders(root: Path) -> Path:
    for split in ("train", "val"):
        for label in ("normal", "abnormal"):
            for k in range(3):
                write_png(root / split / label / f"{label}{k}.png", gradient(30, 20, seed=k))
    (root / "train" / "normal" / "broken.png").write_text("not an image")
    return root


def test_prepare_command_summary_reuse_and_preview(tmp_path: Path, xrayssl: Any) -> None:
    src = make_folders(tmp_path / "src")
    out = tmp_path / "cache"
    args = ["prepare", str(src), "--out", str(out), "--size", "32", "--clahe", "clip=3,tile=4",
            "--workers", "1", "--quiet"]
    first = xrayssl(*args, "--preview", str(tmp_path / "preview.png"))
    assert first.returncode == 0, first.stderr
    assert "13 images listed" in first.stdout
    assert "prepared 12 images of 32x32" in first.stdout
    assert "skipped: 1" in first.stdout
    assert (tmp_path / "preview.png").stat().st_size > 1000
    cache = PreparedCache.open(out)
    assert len(cache) == 12 and cache.config["clahe"]["clip"] == 3.0
    second = xrayssl(*args)
    assert second.returncode == 0 and "reused the prepared cache" in second.stdout


def test_prepare_config_errors_name_field_and_allowed_values(tmp_path: Path, xrayssl: Any) -> None:
    src = make_folders(tmp_path / "src")
    out = str(tmp_path / "cache")
    bad_key = xrayssl("prepare", str(src), "--out", out, "--clahe", "clp=2")
    assert bad_key.returncode == 2
    assert "unknown field clp; allowed fields: clip, tile" in bad_key.stderr
    assert "Traceback" not in bad_key.stderr
    bad_value = xrayssl("prepare", str(src), "--out", out, "--clahe", "clip=-1")
    assert bad_value.returncode == 2 and "clip: Input should be greater than 0" in bad_value.stderr
    bad_size = xrayssl("prepare", str(src), "--out", out, "--size", "2")
    assert bad_size.returncode == 2 and "--size 2: the smallest cache side is 16 px" in (
        bad_size.stderr)
    bad_map = xrayssl("prepare", str(src), "--out", out, "--label-map", "normal=0,abnormal=2")
    assert bad_map.returncode == 2 and "allowed values: 0, 1" in bad_map.stderr
    bad_part = xrayssl("prepare", str(src), "--out", out, "--body-parts", "knee")
    assert bad_part.returncode == 2 and "unknown body part 'knee'" in bad_part.stderr


def test_prepare_with_no_usable_image_stops_with_one_message(
    tmp_path: Path, xrayssl: Any
) -> None:
    (tmp_path / "src" / "normal").mkdir(parents=True)
    (tmp_path / "src" / "normal" / "a.png").write_bytes(b"")
    result = xrayssl("prepare", str(tmp_path / "src"), "--out", str(tmp_path / "c"),
                     "--quiet", "--workers", "1")
    assert result.returncode == 2
    assert "no usable image: all 1 inputs were skipped (reasons: empty file" in result.stderr
    assert "Traceback" not in result.stderr
