"""Nothing from test feeds selection: poison the test labels and only the test block moves.

Two caches hold the same pixels and the same splits; in the second every test label is
flipped. Pretraining (with its kNN monitor), the probe (its C and thresholds), the val block
the study ranks by and the study's objective must come out identical; the test block must not.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from conftest import MakeCache

from xrayssl.config.pretrain import PretrainConfig
from xrayssl.config.probe import ProbeConfig
from xrayssl.config.study import ObjectiveSettings
from xrayssl.data.cache import IMAGES_FILE, MASKS_FILE, PreparedCache, write_index
from xrayssl.evaluate.run import evaluate_encoder
from xrayssl.models.encoders import load_encoder
from xrayssl.models.pretrain import run_pretraining
from xrayssl.runs.metrics_file import RunMetrics
from xrayssl.study.trial import objective_value

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
import pretrain_tiny  # registers the tiny test encoder

FAST = ProbeConfig(fractions=[0.5, 1.0], seeds=2, n_bootstrap=50, cs=[0.01, 1.0], cv_folds=3)


def poisoned_copy(cache: PreparedCache, root: Path) -> PreparedCache:
    """The same pixels and splits, every test label flipped."""
    root.mkdir(parents=True)
    np.save(root / IMAGES_FILE, np.asarray(cache.images))
    if cache.masks is not None:
        np.save(root / MASKS_FILE, np.asarray(cache.masks))
    records = [
        replace(r, label=1 - r.label) if r.split == "test" and r.label is not None else r
        for r in cache.records
    ]
    write_index(root, records, cache.size, cache.config, cache.config_hash, cache.splits)
    return PreparedCache.open(root)


def without_test(metrics: RunMetrics) -> dict[str, Any]:
    """Everything of a metrics.json except what test labels may change (and timings)."""
    out = metrics.model_dump(mode="json")
    del out["timing"], out["data"]["cache"]
    for block in out["fractions"].values():
        test = block["scores"]["test"]
        block["scores"]["test"] = {"predictions": test["predictions"]}  # labels do not move it
        for fit in block["fits"]:
            del fit["seconds"]
    test_split = out["splits"]["test"]
    del test_split["labels"], test_split["n_positive"]
    return out


def test_poisoned_test_labels_change_only_the_test_block(
    make_cache: MakeCache, tmp_path: Path
) -> None:
    clean = make_cache(n=120, size=16, body_parts=("elbow", "wrist"))
    poisoned = poisoned_copy(clean, tmp_path / "poisoned")
    test = clean.select(splits=["test"])
    assert len(test) and (clean.labels[test] != poisoned.labels[test]).all()
    assert (clean.labels[clean.select(splits=["train", "val"])]
            == poisoned.labels[poisoned.select(splits=["train", "val"])]).all()

    # Pretraining and its kNN monitor (which the study may prune on) read train and val only.
    config = pretrain_tiny_config()
    runs = [run_pretraining(config, cache, tmp_path / name)
            for cache, name in ((clean, "run-clean"), (poisoned, "run-poisoned"))]
    monitor = [[(row.get("knn_auroc"), row.get("knn_accuracy")) for row in r.history]
               for r in runs]
    assert monitor[0] == monitor[1] and monitor[0][0][0] is not None
    encoders = [load_encoder(r.encoder_path)[0] for r in runs]
    for a, b in zip(encoders[0].state_dict().values(), encoders[1].state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)

    metrics = [evaluate_encoder(encoders[0], cache, config=FAST)
               for cache in (clean, poisoned)]
    # C, thresholds, val metrics, val and test predictions: identical.
    assert without_test(metrics[0]) == without_test(metrics[1])
    objective = ObjectiveSettings(metric="auroc", fraction=1.0)
    assert objective_value(metrics[0], objective) == objective_value(metrics[1], objective)
    # The test block is where the poison shows: flipped labels turn AUROC into 1 - AUROC.
    clean_auroc = metrics[0].estimate("auroc", 1.0, split="test")
    bad_auroc = metrics[1].estimate("auroc", 1.0, split="test")
    assert clean_auroc is not None and bad_auroc is not None
    assert clean_auroc.value is not None and bad_auroc.value is not None
    assert abs(clean_auroc.value + bad_auroc.value - 1) < 1e-9
    assert clean_auroc.value != bad_auroc.value


def pretrain_tiny_config() -> PretrainConfig:
    return PretrainConfig(
        method="simclr", encoder=pretrain_tiny.TINY, policy="crop+flip", epochs=1,
        batch_size=16, workers=0, progress=False, method_options={"projection_dim": 16},
        log_every_n_steps=1, monitor_max_query=64, monitor_max_bank=64,
    )
