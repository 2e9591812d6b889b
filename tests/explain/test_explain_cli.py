from __future__ import annotations

import json
from pathlib import Path

from conftest import MakeCache
from typer.testing import CliRunner

from xrayssl.cli import app


def test_gradcam_command_compares_two_bare_encoders(make_cache: MakeCache, tmp_path: Path) -> None:
    from xrayssl.models.encoders import build_encoder, save_encoder

    cache = make_cache(n=12, size=32)
    for name in ("a", "b"):
        save_encoder(build_encoder("resnet18", image_size=32), tmp_path / name / "encoder.pt",
                     {"method": "simclr", "policy": f"policy-{name}"})
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [
        "gradcam", "--encoder", str(tmp_path / "a"), "--images", str(cache.root),
        "--out", str(out), "--compare", str(tmp_path / "b" / "encoder.pt"), "--max-images", "4",
    ])
    assert result.exit_code == 0, result.output
    assert "pointing game" in result.output
    record = json.loads((out / "explain.json").read_text())
    assert [m["name"] for m in record["models"]] == ["simclr policy-a", "simclr policy-b"]
    assert all(m["target"] == "own embedding" for m in record["models"])
    assert (out / "comparison.png").is_file()


def test_gradcam_command_reports_a_missing_encoder(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, [
        "gradcam", "--encoder", str(tmp_path / "nope.pt"), "--images", str(tmp_path),
        "--out", str(tmp_path / "out"),
    ])
    assert result.exit_code != 0
    assert "encoder file not found" in str(result.exception)


def test_gradcam_command_prepares_a_plain_image_folder(tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    from xrayssl.models.encoders import build_encoder, save_encoder

    rng = np.random.default_rng(0)
    folder = tmp_path / "images"
    for i in range(4):  # class folders: images/normal/*.png, images/abnormal/*.png
        label_dir = folder / ("abnormal" if i % 2 else "normal")
        label_dir.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (40, 30), dtype=np.uint8)).save(label_dir / f"{i}.png")
    save_encoder(build_encoder("resnet18", image_size=32), tmp_path / "enc.pt", {})
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["gradcam", "--encoder", str(tmp_path / "enc.pt"),
                                      "--images", str(folder), "--out", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads((out / "explain.json").read_text())
    assert len(record["images"]) == 4
    assert {c["kind"] for c in record["cases"]} == {"abnormal", "normal"}
    assert (out / "prepared" / "index.json").is_file()
    assert record["originals_missing"] == {}  # the originals are read back for the overlay
