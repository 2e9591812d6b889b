"""`xrayssl pretrain` end to end, and its refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pretrain_tiny
import pytest
from conftest import MakeCache
from typer.testing import CliRunner

from xrayssl.cli import app
from xrayssl.config.pretrain import PretrainConfig
from xrayssl.models.encoders import load_encoder


def test_pretrain_command_trains_resumes_and_refuses(make_cache: MakeCache, tmp_path: Path) -> None:
    cache = make_cache(n=32, size=16)
    out = tmp_path / "run"
    args = ["pretrain", "--data", str(cache.root), "--method", "simclr",
            "--encoder", pretrain_tiny.TINY, "--policy", "crop+flip", "--epochs", "1",
            "--batch-size", "8", "--workers", "0", "--option", "projection_dim=16",
            "--out", str(out), "--quiet"]
    runner = CliRunner()
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "throughput" in result.output
    # The summary is a sentence, not a JSON dump; the monitor's best epoch is named.
    assert "last epoch: 1, loss " in result.output and "(best " in result.output
    assert "{" not in result.output
    encoder, meta = load_encoder(out / "encoder.pt")
    assert meta["config"]["method_options"] == {"projection_dim": 16}
    assert encoder.spec["name"] == pretrain_tiny.TINY

    again = runner.invoke(app, args)
    assert again.exit_code != 0 and "--resume" in str(again.exception)
    resumed = runner.invoke(app, [*args, "--resume"])  # already finished: nothing left to do
    assert resumed.exit_code == 0, resumed.output

    bad = runner.invoke(app, [*args[:-3], "--option", "temprature=0.1", "--out",
                              str(tmp_path / "b"), "--quiet"])
    assert bad.exit_code != 0 and "temperature" in str(bad.exception)


def test_compile_flag_reaches_the_run_config(make_cache: MakeCache, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """``--compile`` asks for torch.compile; without it the run stays eager (the default)."""
    import xrayssl.models.pretrain as pretrain

    seen: list[PretrainConfig] = []

    def record(config: PretrainConfig, *args: Any, **kwargs: Any) -> None:
        seen.append(config)
        raise SystemExit(0)  # the config is what this test is about, not the training

    monkeypatch.setattr(pretrain, "run_pretraining", record)
    cache = make_cache(n=32, size=16)
    args = ["pretrain", "--data", str(cache.root), "--encoder", pretrain_tiny.TINY,
            "--policy", "crop", "--out", str(tmp_path / "run"), "--quiet"]
    runner = CliRunner()
    runner.invoke(app, [*args, "--compile"])
    runner.invoke(app, args)
    assert [config.compile for config in seen] == [True, False]


def test_small_images_need_no_policy_the_recipe_names_it(
    make_cache: MakeCache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xrayssl.models.pretrain as pretrain
    from xrayssl.models.recipe import SMALL_IMAGES

    seen: list[PretrainConfig] = []

    def record(config: PretrainConfig, *args: Any, **kwargs: Any) -> None:
        seen.append(config)
        raise SystemExit(0)

    monkeypatch.setattr(pretrain, "run_pretraining", record)
    cache = make_cache(n=32, size=16)
    result = CliRunner().invoke(app, ["pretrain", "--data", str(cache.root), "--out",
                                      str(tmp_path / "run"), "--quiet"])
    assert "the CPU-budget recipe sets" in result.output and "policy" in result.output
    assert [config.policy for config in seen] == [SMALL_IMAGES.policy]
