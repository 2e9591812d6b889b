"""run_pretraining end to end on a tiny cache: every method, export, resume, refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pretrain_tiny
import pytest
import pytorch_lightning as pl
import torch
from conftest import MakeCache

from xrayssl.config.pretrain import PretrainConfig
from xrayssl.errors import XraySSLError
from xrayssl.models.encoders import build_encoder, load_encoder
from xrayssl.models.methods import METHODS
from xrayssl.models.precision import auto_precision
from xrayssl.models.pretrain import run_pretraining

SMALL_HEADS: dict[str, dict[str, Any]] = {
    "simclr": {"projection_dim": 16},
    "byol": {"projection_dim": 16, "hidden_dim": 32},
    "moco": {"projection_dim": 16, "memory_bank_size": 64},
    "simsiam": {"projection_dim": 16, "prediction_hidden_dim": 8},
    "vicreg": {"projection_dim": 32, "hidden_dim": 32},
    "barlow": {"projection_dim": 32, "hidden_dim": 32},
}


def tiny_config(method: str = "simclr", **overrides: Any) -> PretrainConfig:
    fields: dict[str, Any] = {
        "method": method, "encoder": pretrain_tiny.TINY, "policy": "crop+flip",
        "epochs": 1, "batch_size": 8, "workers": 0, "progress": False,
        "method_options": SMALL_HEADS[method], "log_every_n_steps": 1,
    }
    fields.update(overrides)
    return PretrainConfig(**fields)


def test_every_registered_method_has_a_test() -> None:
    assert set(METHODS.names()) == set(SMALL_HEADS)


@pytest.mark.parametrize("method", sorted(SMALL_HEADS))
def test_one_epoch_trains_and_exports_the_encoder(
    method: str, make_cache: MakeCache, tmp_path: Path
) -> None:
    cache = make_cache(n=32, size=16)
    out = tmp_path / method
    result = run_pretraining(tiny_config(method), cache, out)

    assert [r["epoch"] for r in result.history] == [0, 1]  # 0: monitor before training
    row = result.history[1]
    assert torch.isfinite(torch.tensor(row["loss"]))
    assert 0 <= row["knn_accuracy"] <= 1
    assert result.pairs_per_second > 0
    encoder, meta = load_encoder(result.encoder_path)
    assert meta["config"]["method"] == method
    # The exported weights are trained ones, not the initialisation of the same seed.
    pl.seed_everything(0, verbose=False)
    initial = build_encoder(pretrain_tiny.TINY, image_size=16)
    changed = [not torch.equal(a, b) for a, b in
               zip(encoder.state_dict().values(), initial.state_dict().values(), strict=True)]
    assert any(changed)
    assert (out / "log.csv").read_text().startswith("epoch,")
    assert (out / "logs" / "version_0" / "metrics.csv").is_file()
    assert json.loads((out / "pretrain.json").read_text())["epochs_completed"] == 1


class KillAtEpoch(pl.Callback):
    """Stands in for a killed process: dies when ``epoch`` starts (its predecessor is saved)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch == self.epoch:
            raise RuntimeError("killed")


# moco: its queue must resume too (slow: a third run of the same size)
@pytest.mark.parametrize("method", ["simclr", pytest.param("moco", marks=pytest.mark.slow)])
def test_killed_and_resumed_run_equals_the_uninterrupted_one(
    method: str, make_cache: MakeCache, tmp_path: Path
) -> None:
    cache = make_cache(n=32, size=16)
    config = tiny_config(method, epochs=2, deterministic=True)
    whole = run_pretraining(config, cache, tmp_path / "whole")

    with pytest.raises(RuntimeError, match="killed"):
        run_pretraining(config, cache, tmp_path / "killed", callbacks=[KillAtEpoch(1)])
    assert not (tmp_path / "killed" / "encoder.pt").exists()
    resumed = run_pretraining(config.model_copy(update={"resume": True}), cache,
                              tmp_path / "killed")

    a, _ = load_encoder(whole.encoder_path)
    b, _ = load_encoder(resumed.encoder_path)
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(x, y), name
    assert [r.get("loss") for r in resumed.history] == [r.get("loss") for r in whole.history]
    assert len(resumed.history) == 3


def test_existing_run_is_never_overwritten_without_resume(
    make_cache: MakeCache, tmp_path: Path
) -> None:
    cache = make_cache(n=32, size=16)
    run_pretraining(tiny_config(), cache, tmp_path / "run")
    with pytest.raises(XraySSLError, match="--resume"):
        run_pretraining(tiny_config(), cache, tmp_path / "run")
    with pytest.raises(XraySSLError, match=r"different settings.*epochs"):
        run_pretraining(tiny_config(epochs=3, resume=True), cache, tmp_path / "run")


def test_foreign_checkpoint_is_refused_without_running_it(
    make_cache: MakeCache, tmp_path: Path
) -> None:
    cache = make_cache(n=32, size=16)
    folder = tmp_path / "run" / "checkpoints"
    folder.mkdir(parents=True)
    torch.save({"weights": torch.zeros(2)}, folder / "epoch=0000.ckpt")
    with pytest.raises(XraySSLError, match="not a checkpoint of an xrayssl pretraining run"):
        run_pretraining(tiny_config(resume=True), cache, tmp_path / "run")


def test_no_matching_images_and_oversized_batch_fail_clearly(
    make_cache: MakeCache, tmp_path: Path
) -> None:
    cache = make_cache(n=32, size=16)
    with pytest.raises(XraySSLError, match=r"no images.*hand"):
        run_pretraining(tiny_config(body_parts=["hand"]), cache, tmp_path / "a")
    with pytest.raises(XraySSLError, match="batch size 64"):
        run_pretraining(tiny_config(batch_size=64), cache, tmp_path / "b")


@pytest.mark.parametrize("method", ["simclr", "byol"])
def test_bf16_mixed_precision_on_the_cpu(method: str, make_cache: MakeCache,
                                         tmp_path: Path) -> None:
    """``--precision bf16-mixed`` on a CPU: finite losses, float32 weights exported."""
    cache = make_cache(n=32, size=16)
    config = tiny_config(method, precision="bf16-mixed", accelerator="cpu")
    result = run_pretraining(config, cache, tmp_path / method)
    assert torch.isfinite(torch.tensor(result.history[1]["loss"]))
    encoder, meta = load_encoder(result.encoder_path)
    assert meta["config"]["precision"] == "bf16-mixed"
    assert all(p.dtype == torch.float32 for p in encoder.parameters())


class CompiledModules(pl.Callback):
    """Records whether each trainable module runs through torch.compile while training."""

    def __init__(self) -> None:
        self.compiled: list[bool] = []

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.compiled = [getattr(m, "_compiled_call_impl", None) is not None
                         for m in pl_module.trainable_modules()]


@pytest.mark.slow  # compiling takes tens of seconds on two cores
def test_compiled_run_trains_the_same_model_as_the_eager_one(make_cache: MakeCache,
                                                             tmp_path: Path) -> None:
    """``compile: true`` leaves the parameter names and the exported encoder as an eager run's;
    the losses agree to float rounding (the compiled kernels sum in another order)."""
    cache = make_cache(n=32, size=16)
    config = tiny_config(epochs=2, precision="32-true", accelerator="cpu")
    eager = run_pretraining(config, cache, tmp_path / "eager")
    seen = CompiledModules()
    compiled = run_pretraining(config.model_copy(update={"compile": True}), cache,
                               tmp_path / "compiled", callbacks=[seen])
    assert seen.compiled == [True, True]  # the encoder and the head ran compiled
    a, _ = load_encoder(eager.encoder_path)
    b, meta = load_encoder(compiled.encoder_path)
    assert meta["config"]["compile"] is True
    assert list(a.state_dict()) == list(b.state_dict())
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.allclose(x, y, atol=1e-3), name
    losses = [(r["loss"], s["loss"]) for r, s in zip(eager.history[1:], compiled.history[1:],
                                                     strict=True)]
    assert all(abs(x - y) < 1e-3 * abs(x) for x, y in losses), losses


def test_auto_precision_is_resolved_and_saved(make_cache: MakeCache, tmp_path: Path) -> None:
    """``precision: auto`` on a CPU: the saved config names what ran (bf16 only if native)."""
    cache = make_cache(n=32, size=16)
    result = run_pretraining(tiny_config(accelerator="cpu"), cache, tmp_path / "auto")
    _, meta = load_encoder(result.encoder_path)
    assert meta["config"]["precision"] == auto_precision(on_gpu=False)
    summary = json.loads((tmp_path / "auto" / "pretrain.json").read_text())
    assert summary["config"]["precision"] == auto_precision(on_gpu=False)


@pytest.mark.gpu
@pytest.mark.parametrize("method", ["simclr", "byol"])
def test_one_epoch_on_the_gpu_in_mixed_precision(
    method: str, make_cache: MakeCache, tmp_path: Path
) -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    cache = make_cache(n=64, size=32)
    config = tiny_config(method, encoder="resnet18_small", accelerator="gpu", devices=1,
                         workers=2, epochs=2)
    result = run_pretraining(config, cache, tmp_path / method)
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in result.history[1:])
    assert result.history[-1]["pairs_per_second"] > 0
    assert json.loads((tmp_path / method / "pretrain.json").read_text())["config"]["precision"]


def test_checkpoints_holding_pickled_code_stop_the_run(
    make_cache: MakeCache, tmp_path: Path
) -> None:
    import os
    import pickle

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.mkdir, (str(tmp_path / "pickle-ran"),))

    folder = tmp_path / "run" / "checkpoints"
    folder.mkdir(parents=True)
    (folder / "epoch=0000.ckpt").write_bytes(pickle.dumps({"state_dict": Payload()}, protocol=2))
    with pytest.raises(XraySSLError, match="can be read safely"):
        run_pretraining(tiny_config(resume=True), make_cache(n=32, size=16), tmp_path / "run")
    assert not (tmp_path / "pickle-ran").exists()
