from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import MakeCache
from explain_standins import RegionEncoder, sum_probe
from PIL import Image

from xrayssl.errors import XraySSLError
from xrayssl.explain.run import ModelToExplain, explain_models


def test_explain_scores_a_lesion_detector_above_a_model_that_looks_elsewhere(
    make_cache: MakeCache, tmp_path: Path
) -> None:
    cache = make_cache(n=48, size=32)
    whole = ModelToExplain("sees everything", RegionEncoder(32, slice(0, 32), slice(0, 32)),
                           sum_probe())
    corner = ModelToExplain("sees one corner", RegionEncoder(32, slice(0, 8), slice(0, 8)),
                            sum_probe())
    out = tmp_path / "explain"
    summary = explain_models([whole, corner], cache, out, split=None, max_images=40)
    good = summary.localization["sees everything"]
    bad = summary.localization["sees one corner"]
    assert good is not None and bad is not None
    # the bright square IS the lesion: a bright-blob detector points at it every time
    assert good["pointing_game"] == 1.0
    assert good["energy_inside"] > 3 * good["chance_energy"]
    assert bad["pointing_game"] < 0.5
    record = json.loads((out / "explain.json").read_text())
    assert [m["name"] for m in record["models"]] == ["sees everything", "sees one corner"]
    assert {c["kind"] for c in record["cases"]} <= {"TP", "FN", "FP"}
    # the fixture's originals do not exist on disk: every fallback is reported, none hidden
    assert len(record["originals_missing"]) == len(record["images"])
    overlays = sorted((out / "overlays" / "sees_everything").glob("*.png"))
    assert len(overlays) == len(record["images"])
    assert Image.open(out / "comparison.png").size[0] > 300


def test_explain_without_masks_or_probe(make_cache: MakeCache, tmp_path: Path) -> None:
    cache = make_cache(n=16, size=32, with_masks=False)
    model = ModelToExplain("bare", RegionEncoder(32, slice(0, 32), slice(0, 32)))
    summary = explain_models([model], cache, tmp_path / "out", show_on="prepared")
    assert summary.localization == {"bare": None}
    record = json.loads((tmp_path / "out" / "explain.json").read_text())
    assert record["originals_missing"] == {}
    assert {c["kind"] for c in record["cases"]} == {"abnormal", "normal"}


def test_unknown_split_is_a_clear_error(make_cache: MakeCache, tmp_path: Path) -> None:
    cache = make_cache(n=8, size=32)
    model = ModelToExplain("m", RegionEncoder(32, slice(0, 32), slice(0, 32)))
    with pytest.raises(XraySSLError, match="no images in split 'test'"):
        explain_models([model], cache, tmp_path / "out", split="test")


def test_real_encoder_and_probe_files_load_and_explain(
    make_cache: MakeCache, tmp_path: Path
) -> None:
    import numpy as np

    probe_module = pytest.importorskip("xrayssl.evaluate.probe")
    LinearProbe = probe_module.LinearProbe
    from xrayssl.explain.run import load_model
    from xrayssl.models.encoders import build_encoder, save_encoder

    encoder = build_encoder("resnet18", image_size=32)
    run = tmp_path / "trial"
    save_encoder(encoder, run / "encoder.pt", {"method": "simclr", "policy": "crop+blur"})
    dim = encoder.feature_dim
    rng = np.random.default_rng(0)
    LinearProbe(mean=np.zeros(dim), scale=np.ones(dim), coef=rng.normal(size=dim),
                intercept=0.0, C=1.0, class_weight=None).save(run / "probe.json")
    model = load_model(run)
    assert model.name == "simclr crop+blur" and model.probe_linear is not None
    cache = make_cache(n=8, size=32)
    summary = explain_models([model], cache, tmp_path / "out", max_images=4)
    assert summary.localization["simclr crop+blur"] is not None


def test_a_sheet_of_some_models_records_why(make_cache: MakeCache, tmp_path: Path) -> None:
    cache = make_cache(n=32, size=32)
    models = [ModelToExplain(f"model {k}", RegionEncoder(32, slice(0, 32), slice(0, 32)),
                             sum_probe()) for k in range(3)]
    explain_models(models, cache, tmp_path / "out", in_sheet=[0, 2], overlays=False,
                   sheet_note="the best and the worst", max_images=8)
    record = json.loads((tmp_path / "out" / "explain.json").read_text())
    assert record["sheet_columns"] == ["model 0", "model 2"]
    assert record["sheet_note"] == "2 of 3 models: the best and the worst"
