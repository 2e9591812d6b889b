"""A study folder written the way the study runner writes one, with known numbers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from PIL import Image

from xrayssl.data.cache import PreparedCache

FRACTIONS = (0.1, 0.5, 1.0)
BLUR_GAIN = 0.03
FLIP_GAIN = -0.01


def estimate(value: float) -> dict[str, float]:
    return {"value": value, "lo": value - 0.04, "hi": min(1.0, value + 0.04)}


N_TEST = 60


def predictions(auroc: float) -> dict[str, Any]:
    """Stored test predictions (v1 layout) that separate the classes better for a higher
    ``auroc``: the paired tests of the study are computed from these."""
    labels = np.arange(N_TEST) % 2
    noise = np.random.default_rng(0).normal(size=N_TEST)  # the same noise for every run
    probs = 1 / (1 + np.exp(-(8 * (auroc - 0.6) * (labels - 0.5) + noise)))
    return {"test_indices": list(range(N_TEST)), "labels": labels.tolist(),
            "clusters": [f"p{i}" for i in range(N_TEST)], "by_fraction": {"1": [probs.tolist()]}}


def metrics(cache: PreparedCache, auroc: float, model: dict[str, Any]) -> dict[str, Any]:
    results = {}
    for fraction in FRACTIONS:
        value = auroc - 0.1 * (1 - fraction)
        level = {"auroc": estimate(value), "kappa": estimate(value - 0.3),
                 "accuracy": estimate(value - 0.1)}
        results[f"{fraction:g}"] = {
            "fraction": fraction, "runs": [{"seed": 0, "n_train": 10}],
            "metrics": {
                "overall": {"image": level, "study": {"auroc": estimate(value + 0.01)}},
                "by_body_part": {
                    "elbow": {"image": {"auroc": estimate(value + 0.02)}},
                    "wrist": {"image": {"auroc": estimate(value - 0.02)}},
                },
            },
            "seed_spread": {},
        }
    return {"format": "xrayssl-metrics-v1", "model": model,
            "data": {"cache": str(cache.root), "image_size": cache.size, "n_test": 10},
            "evaluation": {"fractions": list(FRACTIONS)}, "results": results,
            "predictions": predictions(auroc)}


def trial_value(method: str, policy: str) -> float:
    ops = set(policy.split("+"))
    return (0.80 + (0.02 if method == "byol" else 0.0) + BLUR_GAIN * ("blur" in ops)
            + FLIP_GAIN * ("flip" in ops))


def write_run(root: Path, name: str, config: dict[str, Any], metrics_data: dict[str, Any]) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    if config:
        (folder / "config.yaml").write_text(yaml.safe_dump(config))
    (folder / "metrics.json").write_text(json.dumps(metrics_data))


def make_fake_study(root: Path, cache: PreparedCache) -> list[str]:
    """Eight subset trials, two pairwise trials, a baseline; returns the run folder names."""
    root.mkdir(parents=True)
    (root / "study.yaml").write_text(yaml.safe_dump({
        "name": root.name, "data": {"cache": str(cache.root)}, "methods": ["simclr", "byol"],
        "seeds": [0], "space": {"kind": "subsets", "ops": ["blur", "flip"], "base": "crop"},
        "objective": {"metric": "auroc", "level": "image", "fraction": 1.0},
        "report": {"gradcam": True, "gradcam_images": 6},
    }, sort_keys=False))
    names = []
    for method in ("simclr", "byol"):
        for policy in ("crop", "crop+blur", "crop+flip", "crop+blur+flip"):
            name = f"{method}_{policy}_s0"
            write_run(root, name, {"method": method, "policy": policy, "policy_b": None,
                                   "seed": 0},
                      metrics(cache, trial_value(method, policy),
                              {"method": method, "policy": policy}))
            names.append(name)
    for view1, view2, value in (("blur", "crop", 0.7), ("crop", "blur", 0.75)):
        name = f"simclr_{view1}__{view2}_s0"
        write_run(root, name, {"method": "simclr", "policy": view1, "policy_b": view2,
                               "seed": 0}, metrics(cache, value, {"method": "simclr"}))
        names.append(name)
    write_run(root, "baselines/random", {}, metrics(cache, 0.6, {"kind": "random",
                                                                   "baseline": True}))
    names.append("baselines/random")
    return names


def write_originals(cache: PreparedCache, base: Path) -> None:
    """Originals at the records' (relative) paths: a darker, lower-contrast version."""
    for index, record in enumerate(cache.records):
        path = base / record.path
        path.parent.mkdir(parents=True, exist_ok=True)
        image = (np.asarray(cache.images[index], dtype=np.float32) * 0.5 + 20).astype(np.uint8)
        Image.fromarray(image).save(path)
