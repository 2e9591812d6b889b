"""Grad-CAM reads an encoder the way its probe did: the final vector or the multi-scale pool."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import MakeCache

from xrayssl.config.probe import ProbeConfig
from xrayssl.data.cache import PreparedCache
from xrayssl.errors import XraySSLError
from xrayssl.evaluate.features import extract_features, with_readout
from xrayssl.evaluate.probe import LinearProbe
from xrayssl.evaluate.run import evaluate_encoder
from xrayssl.explain.gradcam import compute_cams
from xrayssl.explain.run import explain_models, load_model
from xrayssl.models.encoders import build_encoder, save_encoder


def probed_trial(make_cache: MakeCache, folder: Path) -> tuple[PreparedCache, Path]:
    """A resnet_tiny trial folder whose probe the default readout fit (multiscale at 32 px)."""
    cache = make_cache(n=64, size=32)
    encoder = build_encoder("resnet_tiny", image_size=32)
    save_encoder(encoder, folder / "encoder.pt", {"method": "simclr", "policy": "crop"})
    fast = ProbeConfig(fractions=[1.0], seeds=1, n_bootstrap=10, cs=[1.0], cv_folds=2)
    result = evaluate_encoder(encoder, cache, config=fast, device="cpu",
                              probe_out=folder / "probe.json")
    assert result.model["readout"] == "multiscale"
    return cache, folder


def test_the_cam_scores_are_the_multiscale_probe_s_own(make_cache: MakeCache,
                                                       tmp_path: Path) -> None:
    cache, folder = probed_trial(make_cache, tmp_path / "trial")
    assert json.loads((folder / "probe.json").read_text())["readout"] == "multiscale"
    model = load_model(folder)
    assert model.readout == "multiscale" and model.probe_linear is not None
    assert model.probe_linear.in_features == 16 + 32 + 64 + 128
    indices = np.arange(12)
    images = np.asarray(cache.images[indices])
    cams = compute_cams(model.encoder, images, probe_linear=model.probe_linear,
                        readout=model.readout, device="cpu")
    features = extract_features(with_readout(model.encoder, "multiscale"), cache, indices, 16,
                                "cpu")
    expected = LinearProbe.load(folder / "probe.json").predict_proba(features)
    assert cams.scores is not None
    np.testing.assert_allclose(cams.scores, expected, atol=1e-4)
    assert cams.cams.shape == (12, 32, 32) and np.isfinite(cams.cams).all()
    summary = explain_models([model], cache, tmp_path / "out", max_images=8)
    record = json.loads((tmp_path / "out" / "explain.json").read_text())
    assert record["models"][0]["readout"] == "multiscale"
    assert summary.localization


def test_a_probe_file_without_its_readout_is_read_by_its_width(make_cache: MakeCache,
                                                               tmp_path: Path) -> None:
    _, folder = probed_trial(make_cache, tmp_path / "trial")
    data = json.loads((folder / "probe.json").read_text())
    del data["readout"]  # as written before the readout was recorded
    (folder / "probe.json").write_text(json.dumps(data))
    assert load_model(folder).readout == "multiscale"
    data["coef"], data["mean"], data["scale"] = ([0.1] * 128, [0.0] * 128, [1.0] * 128)
    (folder / "probe.json").write_text(json.dumps(data))
    assert load_model(folder).readout == "final"


def test_a_probe_of_another_width_is_a_clear_error(make_cache: MakeCache,
                                                   tmp_path: Path) -> None:
    cache, folder = probed_trial(make_cache, tmp_path / "trial")
    data = json.loads((folder / "probe.json").read_text())
    data.update(coef=[0.1] * 100, mean=[0.0] * 100, scale=[1.0] * 100)
    (folder / "probe.json").write_text(json.dumps(data))
    model = load_model(folder)
    with pytest.raises(XraySSLError, match="the probe reads 100 features and the encoder "
                                           "gives 240"):
        explain_models([model], cache, tmp_path / "out", max_images=4)
    data["readout"] = "deep"
    (folder / "probe.json").write_text(json.dumps(data))
    with pytest.raises(XraySSLError, match="unknown readout 'deep'"):
        load_model(folder)
