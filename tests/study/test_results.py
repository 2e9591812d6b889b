"""Results are rebuilt from run folders: ranking, significance, per-op effect, pairwise grid."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import yaml
from sklearn.metrics import roc_auc_score

from xrayssl.study.results import holm, write_results


def write_trial(study: Path, name: str, method: str, policy: str, probs: np.ndarray,
                labels: np.ndarray, clusters: list[str], policy_b: str | None = None) -> None:
    folder = study / name
    folder.mkdir(parents=True)
    auroc = float(roc_auc_score(labels, probs))
    (folder / "config.yaml").write_text(yaml.safe_dump(
        {"method": method, "policy": policy, "policy_b": policy_b, "seed": 0}))
    block = {"metrics": {
        "overall": {"image": {"auroc": {"value": auroc, "lo": auroc - 0.05, "hi": auroc + 0.05},
                              "kappa": {"value": 0.1, "lo": 0.0, "hi": 0.2}}},
        "by_body_part": {"wrist": {"image": {"auroc": {"value": auroc}}}}}}
    # Ranking reads the val block; the test block holds other numbers it must not read.
    stored = {"indices": list(range(len(labels))), "labels": labels.tolist(),
              "clusters": clusters, "by_fraction": {"1": [probs.tolist()]}}
    test = {"overall": {"image": {"auroc": {"value": 0.5, "lo": 0.4, "hi": 0.6}}}}
    (folder / "metrics.json").write_text(json.dumps({
        "results": {"1": {"fraction": 1.0, "metrics": test, "val": block}},
        "predictions": {"test_indices": [0], "labels": [0], "clusters": ["p0"],
                        "by_fraction": {"1": [[0.5]]}, "val": stored}}))


def test_results_rank_compare_and_measure_op_effects(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 300
    labels = rng.integers(0, 2, n)
    clusters = [f"p{i}" for i in range(n)]
    strong = labels + rng.normal(0, 0.5, n)  # AUROC about 0.92
    weak = labels + rng.normal(0, 3.0, n)  # about 0.6
    study = tmp_path / "study"
    study.mkdir()
    (study / "study.yaml").write_text(yaml.safe_dump(
        {"objective": {"metric": "auroc", "fraction": 1.0},
         "space": {"kind": "ablation", "base": "crop", "ops": ["flip", "blur"]}}))
    write_trial(study, "a", "simclr", "crop", weak, labels, clusters)
    write_trial(study, "b", "simclr", "crop+flip", strong, labels, clusters)
    write_trial(study, "c", "simclr", "crop+blur", weak + rng.normal(0, 0.01, n), labels,
                clusters)
    results = write_results(study, n_boot=300)
    ranked = results.ranked()
    assert ranked[0].policy == "crop+flip"
    best = results.best_per_method()["simclr"]
    assert best.vs_baseline["delta"] > 0.2 and best.vs_baseline["p_holm"] < 0.05
    blur = next(t for t in results.trials if t.view1 == "crop+blur")
    assert blur.vs_baseline["p_holm"] > 0.05  # the same predictions up to noise
    assert blur.vs_best["delta"] < 0 and blur.vs_best["p_holm"] < 0.05
    rows = list(csv.DictReader((study / "results" / "ranked.csv").open()))
    assert rows[0]["policy"] == "crop+flip"
    assert rows[0]["vs_baseline_significant"] == "true"
    effects = {(r["method"], r["op"]): float(r["mean_change"])
               for r in csv.DictReader((study / "results" / "op_effects.csv").open())}
    assert effects[("simclr", "flip")] > 0.2 and abs(effects[("simclr", "blur")]) < 0.05
    markdown = (study / "results" / "results.md").read_text()
    assert "| simclr | crop+flip |" in markdown


def test_holm_adjustment() -> None:
    assert holm([0.01, 0.04, 0.03]) == [0.03, 0.06, 0.06]
