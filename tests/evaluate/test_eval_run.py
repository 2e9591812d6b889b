"""End-to-end evaluation on the tiny signal cache with small stand-in encoders."""

import numpy as np
import pytest
import torch
from torch import nn

from xrayssl.config.probe import ProbeConfig, SupervisedConfig
from xrayssl.errors import XraySSLError
from xrayssl.evaluate.compare import compare_metrics
from xrayssl.evaluate.features import extract_features
from xrayssl.evaluate.floors import RawPixels, train_supervised
from xrayssl.evaluate.run import (
    evaluate_encoder,
    label_subset,
    make_split,
    patient_ids,
)
from xrayssl.evaluate.table import format_table
from xrayssl.runs.metrics_file import RunMetrics

FAST = ProbeConfig(fractions=[0.5, 1.0], seeds=2, n_bootstrap=50, cs=[0.01, 1.0], cv_folds=3)


class TinyEncoder(nn.Module):
    """Stand-in for a real encoder: a conv, a ReLU and global pooling."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.feature_dim = 8
        self.spec = {"name": "tiny"}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x))).amax(dim=(2, 3))


def test_features_are_batched_cached_and_leave_the_encoder_as_found(make_cache, tmp_path):
    cache = make_cache(n=24, size=16)
    encoder = TinyEncoder().train()
    indices = np.array([3, 1, 7, 20])
    first = extract_features(encoder, cache, indices, batch_size=3, device="cpu",
                             cache_dir=tmp_path / "features")
    assert first.shape == (4, 8) and encoder.training
    assert len(list((tmp_path / "features").glob("*.npy"))) == 1
    one_by_one = np.concatenate([extract_features(encoder, cache, [i], device="cpu")
                                 for i in indices])
    np.testing.assert_allclose(first, one_by_one, rtol=1e-5, atol=1e-6)
    again = extract_features(encoder, cache, indices, device="cpu", cache_dir=tmp_path / "features")
    np.testing.assert_array_equal(first, again)
    with torch.no_grad():
        encoder.conv.bias += 1.0  # a changed encoder must not get the old features
    changed = extract_features(encoder, cache, indices, device="cpu",
                               cache_dir=tmp_path / "features")
    assert not np.allclose(changed, first)
    assert len(list((tmp_path / "features").glob("*.npy"))) == 2


def test_label_subsets_are_stratified_and_patient_grouped(make_cache):
    cache = make_cache(n=160, size=8)
    split = make_split(cache, None)
    assert not set(patient_ids(cache, split.train)) & set(patient_ids(cache, split.test))
    subset = label_subset(cache, split.train, 0.25, seed=0)
    assert set(cache.labels[subset]) == {0, 1}
    assert 0.15 < len(subset) / len(split.train) < 0.35
    chosen = set(patient_ids(cache, subset))
    left_out = set(patient_ids(cache, np.setdiff1d(split.train, subset)))
    assert not chosen & left_out  # a patient is wholly in or wholly out


def test_cache_without_valid_split_gets_a_patient_split(make_cache, tmp_path):
    from dataclasses import replace

    from xrayssl.data.cache import write_index

    cache = make_cache(n=80, size=8, with_masks=False)
    records = [replace(r, split=None, source_split=None) for r in cache.records]
    write_index(cache.root, records, cache.size, cache.config, cache.config_hash)
    from xrayssl.data.cache import PreparedCache

    split = make_split(PreparedCache.open(cache.root), None)
    assert "test: carved by patient" in split.how and "val: carved from train" in split.how
    assert len(split.test) and len(split.val) and len(split.train)
    groups = [set(patient_ids(cache, s)) for s in (split.train, split.val, split.test)]
    assert not groups[0] & groups[1] and not groups[0] & groups[2] and not groups[1] & groups[2]


def test_evaluate_encoder_beats_chance_and_reports_every_level(make_cache, tmp_path):
    cache = make_cache(n=160, size=16, body_parts=("elbow", "wrist", "hand"))
    result = evaluate_encoder(RawPixels(8), cache, config=FAST,
                              probe_out=tmp_path / "probe.json")
    result.write(tmp_path / "metrics.json")  # metrics.json must serialise
    assert RunMetrics.read(tmp_path / "metrics.json") == result
    full = result.scores(1.0)
    assert full is not None
    auroc = full.estimate("auroc")
    assert auroc is not None and auroc.value is not None and auroc.lo is not None
    assert auroc.hi is not None
    assert auroc.value > 0.8 and auroc.lo <= auroc.value <= auroc.hi
    assert full.overall.study is not None  # two images per study
    assert set(full.by_body_part) == {"elbow", "wrist", "hand"}
    for held in result.splits.values():  # each held-out image's body part, in column order
        assert held.indices is not None and held.image_parts is not None
        assert held.image_parts == [cache.records[i].body_part for i in held.indices]
        assert len(set(held.image_parts)) > 1
    half = result.fractions["0.5"]
    assert len(half.fits) == 2 and len(half.scores["test"].seed_spread["auroc"].values) == 2
    assert (tmp_path / "probe.json").is_file()
    assert "auroc" in format_table([result])
    lines = compare_metrics(result, result)
    assert len(lines) == 2 and "+0.000" in lines[1]
    assert f"auroc {auroc.value:.3f} vs {auroc.value:.3f}" in lines[1]  # same as table


def test_body_part_filter_and_unknown_body_part(make_cache):
    # Three parts, so the source's valid patients (every fourth) include elbows: their test.
    cache = make_cache(n=160, size=16, body_parts=("elbow", "wrist", "hand"))
    result = evaluate_encoder(RawPixels(4), cache, config=FAST, body_parts=["elbow"],
                              fractions=[1.0])
    assert result.data.body_parts == ["elbow"]
    assert not result.fractions["1"].scores["test"].by_body_part
    with pytest.raises(XraySSLError, match="not in"):
        evaluate_encoder(RawPixels(4), cache, config=FAST, body_parts=["skull"])


def test_supervised_training_learns_the_signal(make_cache):
    cache = make_cache(n=96, size=16, with_masks=False)
    split = make_split(cache, None)
    config = SupervisedConfig(epochs=3, batch_size=16, lr=3e-3)
    trained = train_supervised(TinyEncoder(), cache, split.train, cache.labels[split.train],
                               patient_ids(cache, split.train), config, seed=0,
                               device=torch.device("cpu"))
    assert len(trained.history) == 3
    assert trained.history[-1]["train_loss"] < trained.history[0]["train_loss"]


def test_frozen_encoder_training_moves_only_the_head(make_cache):
    cache = make_cache(n=96, size=16, with_masks=False)
    split = make_split(cache, None)
    encoder = TinyEncoder()
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    config = SupervisedConfig(epochs=3, batch_size=16, lr=3e-2, holdout_fraction=0)
    trained = train_supervised(encoder, cache, split.train, cache.labels[split.train],
                               patient_ids(cache, split.train), config, seed=0,
                               device=torch.device("cpu"), freeze_encoder=True)
    after = trained.model.encoder.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # weights and BN statistics
    assert trained.history[-1]["train_loss"] < trained.history[0]["train_loss"]


def test_imagenet_linear_baseline_needs_weights_and_keeps_them_frozen(make_cache, tmp_path):
    import torchvision

    from xrayssl.evaluate.run import evaluate_floor

    cache = make_cache(n=64, size=16, with_masks=False)
    config = FAST.model_copy(update={
        "fractions": [1.0], "supervised": SupervisedConfig(epochs=2, batch_size=16)})
    with pytest.raises(XraySSLError, match="imagenet-linear baseline needs a local weights"):
        evaluate_floor("imagenet-linear", cache, config=config)
    weights = tmp_path / "resnet18.pth"  # a stand-in for ImageNet weights (never downloaded)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), weights)
    out = evaluate_floor("imagenet-linear", cache, encoder_name="resnet18", weights=weights,
                            config=config, device="cpu")
    assert out.model["encoder_frozen"] is True
    assert out.model["initialised_from"] == str(weights)
    assert out.run.baseline == "imagenet-linear"
    assert out.estimate("precision", 1.0) is not None


def test_cli_probe_baseline_writes_metrics(make_cache, tmp_path):
    from typer.testing import CliRunner

    from xrayssl.cli import app

    cache = make_cache(n=80, size=16, with_masks=False)
    out = tmp_path / "metrics.json"
    runner = CliRunner()
    run = runner.invoke(app, ["probe", "--data", str(cache.root), "--baseline", "raw",
                              "--fractions", "1", "--out", str(out), "--quiet"])
    assert run.exit_code == 0, run.output
    assert "raw pixels" in run.output
    # val (the split to choose on) first, then test, labelled as reported once
    val_at = run.output.index("val, the split to choose on")
    assert val_at < run.output.index("test, reported once: do not choose")
    assert RunMetrics.read(out).fractions["1"].scores["test"].overall.image
    table = runner.invoke(app, ["probe-table", str(out), "--compare-to", str(out)])
    assert table.exit_code == 0 and "the reference (not compared with itself)" in table.output
    assert "difference" not in table.output
    bad = runner.invoke(app, ["probe", "--data", str(tmp_path / "nowhere"), "--baseline", "raw"])
    assert isinstance(bad.exception, XraySSLError) and "not a prepared cache" in str(bad.exception)


def test_cli_probe_names_the_pretraining_method_of_an_exported_encoder(make_cache, tmp_path):
    from typer.testing import CliRunner

    from xrayssl.cli import app
    from xrayssl.models.encoders import build_encoder, save_encoder

    cache = make_cache(n=80, size=16, with_masks=False)
    encoder_path = tmp_path / "encoder.pt"
    save_encoder(build_encoder("resnet_tiny", image_size=16), encoder_path,
                 {"config": {"method": "byol", "encoder": "resnet_tiny"}})
    out = tmp_path / "metrics.json"
    run = CliRunner().invoke(app, ["probe", "--data", str(cache.root), "--encoder",
                                   str(encoder_path), "--fractions", "1", "--out", str(out),
                                   "--quiet"])
    assert run.exit_code == 0, run.output
    assert "byol (resnet_tiny)" in run.output
    # a run folder holding encoder.pt is accepted, as export and gradcam accept it
    folder = CliRunner().invoke(app, ["probe", "--data", str(cache.root), "--encoder",
                                      str(tmp_path), "--fractions", "1", "--out",
                                      str(tmp_path / "m2.json"), "--quiet"])
    assert folder.exit_code == 0, folder.output
