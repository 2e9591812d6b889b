"""Results are rebuilt from run folders: ranking, significance, per-op effect, pairwise grid."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import yaml
from sklearn.metrics import roc_auc_score

from xrayssl.findings.collect import write_results
from xrayssl.findings.significance import holm


def write_trial(study: Path, name: str, method: str, policy: str, probs: np.ndarray,
                labels: np.ndarray, clusters: list[str], policy_b: str | None = None) -> None:
    folder = study / name
    folder.mkdir(parents=True)
    auroc = float(roc_auc_score(labels, probs))
    (folder / "config.yaml").write_text(yaml.safe_dump(
        {"method": method, "policy": policy, "policy_b": policy_b, "seed": 0}))
    block = {"fraction": 1.0, "metrics": {
        "overall": {"image": {"auroc": {"value": auroc, "lo": auroc - 0.05, "hi": auroc + 0.05},
                              "kappa": {"value": 0.1, "lo": 0.0, "hi": 0.2}}},
        "by_body_part": {"wrist": {"image": {"auroc": {"value": auroc}}}}}}
    (folder / "metrics.json").write_text(json.dumps({
        "format": "xrayssl-metrics-v1", "results": {"1": block},
        "predictions": {"test_indices": list(range(len(labels))), "labels": labels.tolist(),
                        "clusters": clusters, "by_fraction": {"1": [probs.tolist()]}}}))


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
    assert best.vs_base["delta"] > 0.2 and best.vs_base["p_holm"] < 0.05
    blur = next(t for t in results.trials if t.view1 == "crop+blur")
    assert blur.vs_base["p_holm"] > 0.05  # the same predictions up to noise
    assert blur.vs_best["delta"] < 0 and blur.vs_best["p_holm"] < 0.05
    rows = list(csv.DictReader((study / "results" / "ranking.csv").open()))
    assert rows[0]["policy"] == "crop+flip"
    runs = {r["policy"]: r for r in csv.DictReader((study / "results" / "runs.csv").open())}
    assert runs["crop+flip"]["vs_baseline_significant"] == "true"
    effects = {(r["method"], r["op"]): float(r["mean_change"])
               for r in csv.DictReader((study / "results" / "op_effects.csv").open())}
    assert effects[("simclr", "flip")] > 0.2 and abs(effects[("simclr", "blur")]) < 0.05
    markdown = (study / "results" / "results.md").read_text()
    assert "| simclr | crop+flip |" in markdown


def test_holm_adjustment() -> None:
    assert holm([0.01, 0.04, 0.03]) == [0.03, 0.06, 0.06]


def small_study(tmp_path: Path, kind: str) -> tuple[Path, np.ndarray, list[str]]:
    """A study folder over flip and blur on a crop base, and 80 test images' labels."""
    study = tmp_path / "study"
    study.mkdir()
    (study / "study.yaml").write_text(yaml.safe_dump(
        {"space": {"kind": kind, "base": "crop", "ops": ["flip", "blur"]}}))
    return study, np.arange(80) % 2, [f"p{i}" for i in range(80)]


def scored_probs(labels: np.ndarray, noise: float, seed: int) -> np.ndarray:
    return labels + np.random.default_rng(seed).normal(0, noise, len(labels))


def test_pairwise_grid_mirrors_asymmetric_cells_only(tmp_path: Path) -> None:
    """An asymmetric grid holds each pair of ops once: the cell is mirrored. The composed mode
    (both ops on view 1, the base alone on view 2) holds both orders and is not."""
    study, labels, clusters = small_study(tmp_path, "pairwise")
    write_trial(study, "a", "simclr", "crop+flip", scored_probs(labels, 1.0, 0), labels,
                clusters, policy_b="crop+blur")
    write_trial(study, "b", "byol", "crop+flip+blur", scored_probs(labels, 2.0, 1), labels,
                clusters, policy_b="crop")
    from xrayssl.findings.collect import collect

    results = collect(study, n_boot=100)
    cells = {(c.method, c.view1_op, c.view2_op): c.value for c in results.pairwise}
    asymmetric = results.run("a").value
    assert cells[("simclr", "flip", "blur")] == cells[("simclr", "blur", "flip")] == asymmetric
    assert cells[("byol", "flip", "blur")] == results.run("b").value
    assert ("byol", "blur", "flip") not in cells


def test_a_policy_given_twice_is_one_view_and_baselines_stay_apart(tmp_path: Path) -> None:
    study, labels, clusters = small_study(tmp_path, "ablation")
    write_trial(study, "a", "simclr", "crop", scored_probs(labels, 1.0, 0), labels, clusters)
    write_trial(study, "b", "simclr", "crop+flip", scored_probs(labels, 0.5, 1), labels, clusters,
                policy_b="crop+flip")  # the same policy on both views
    write_trial(study, "c", "simclr", "crop+blur", scored_probs(labels, 0.5, 2), labels, clusters,
                policy_b="crop")  # two views that differ: not a one-view policy
    (study / "baselines").mkdir()
    write_trial(study / "baselines", "random", "simclr", "crop", scored_probs(labels, 3.0, 3),
                labels, clusters)
    (study / "baselines" / "random" / "config.yaml").unlink()
    metrics = json.loads((study / "baselines" / "random" / "metrics.json").read_text())
    metrics["model"] = {"kind": "random", "baseline": True}
    (study / "baselines" / "random" / "metrics.json").write_text(json.dumps(metrics))
    from xrayssl.findings.collect import collect

    results = collect(study, n_boot=100)
    effects = {(e.method, e.op): e for e in results.op_effects}
    flip = results.run("b").value - results.run("a").value
    assert effects[("simclr", "flip")].mean_change == flip
    assert ("simclr", "blur") not in effects
    assert [b.folder for b in results.floors] == ["baselines/random"]
    assert results.floors[0].view1 == "random" and results.floors[0].method == "baseline"
    assert "baselines/random" not in {t.folder for t in results.ranked()}
