"""Every rung read back from the run folders: the rungs table, promotions, Kendall's tau."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.stats import kendalltau
from sklearn.metrics import roc_auc_score

from xrayssl.config.study import HalvingSettings
from xrayssl.findings.collect import write_results
from xrayssl.findings.rung_results import rung_tables
from xrayssl.report.html import build_report
from xrayssl.runs.metrics_file import (
    Estimate,
    FractionResult,
    GroupScores,
    HeldOutSplit,
    RunIdentity,
    RunMetrics,
    Scores,
    SplitScores,
)
from xrayssl.study.space import PolicyPair

HALVING = HalvingSettings(rungs=[5, 10, 20], keep=0.5, min_keep=2, final_seeds=[0, 1],
                          keep_base=False)


Data = dict[str, tuple[HeldOutSplit, np.ndarray]]


def split(n: int, rng: np.random.Generator, offset: int) -> tuple[HeldOutSplit, np.ndarray]:
    labels = rng.integers(0, 2, n)
    held = HeldOutSplit(how="seeded by patient", indices=list(range(offset, offset + n)),
                        labels=labels.tolist(), clusters=[f"p{offset + i // 2}" for i in range(n)],
                        n=n, n_positive=int(labels.sum()), n_patients=n // 2)
    return held, labels


def scores(labels: np.ndarray, signal: float, rng: np.random.Generator) -> SplitScores:
    probs = 1 / (1 + np.exp(-(signal * labels[None, :] + rng.normal(0, 1, (2, len(labels))))))
    auroc = float(np.mean([roc_auc_score(labels, p) for p in probs]))
    image = Scores(metrics={"auroc": Estimate(value=auroc, lo=auroc - 0.05, hi=auroc + 0.05),
                            "kappa": Estimate(value=0.1, lo=0.0, hi=0.2)}, threshold=[0.5, 0.5])
    return SplitScores(overall=GroupScores(image=image), predictions=probs.tolist())


def write_run(study: Path, folder: str, identity: RunIdentity, val_signal: float,
              test_signal: float, data: Data, seed: int) -> None:
    """A trial's metrics.json whose val predictions separate the classes by ``val_signal``."""
    rng = np.random.default_rng(seed)
    (val, y_val), (test, y_test) = data["val"], data["test"]
    metrics = RunMetrics(run=identity, splits={"val": val, "test": test}, fractions={
        "1": FractionResult(fraction=1.0, scores={"val": scores(y_val, val_signal, rng),
                                                  "test": scores(y_test, test_signal, rng)})})
    (study / folder).mkdir(parents=True)
    metrics.write(study / folder / "metrics.json")


@dataclass
class Run:
    method: str
    view1: str
    value: float
    rung: int | None
    epochs: int | None
    seed: int | None = 0
    view2: str | None = None


def planted_runs() -> list[Run]:
    """Six policies at rung 0, three at rung 1, two (two seeds) at rung 2."""
    first = {"a": 0.60, "b": 0.70, "c": 0.65, "d": 0.90, "e": 0.80, "f": 0.50}
    second = {"d": 0.91, "e": 0.85, "b": 0.86}
    runs = [Run("simclr", p, v, 0, 5) for p, v in first.items()]
    runs += [Run("simclr", p, v, 1, 10) for p, v in second.items()]
    runs += [Run("simclr", p, v + 0.01 * s, 2, 20, seed=s)
             for p, v in {"d": 0.92, "b": 0.88}.items() for s in (0, 1)]
    return runs


def test_rung_table_values_promotions_and_tau() -> None:
    space = [PolicyPair(p) for p in "abcdef"]
    (table,) = rung_tables(planted_runs(), HALVING, space, base="")
    assert table.epochs == {0: 5, 1: 10, 2: 20}
    cell = table.cells[PolicyPair("d")]
    assert (cell[0].value, cell[0].promoted) == (0.90, True)
    assert cell[2].value == pytest.approx(0.925) and cell[2].seeds == 2
    assert cell[2].promoted is None  # the last rung: nothing comes after it
    assert [p.label for p in space if table.cells[p][0].promoted] == ["b", "d", "e"]
    assert table.cells[PolicyPair("e")][1].promoted is False  # third of three at 10 epochs
    assert table.cells[PolicyPair("b")][1].promoted is True
    # 5 vs 10 epochs over b, d, e: ranks (3, 1, 2) against (2, 1, 3).
    taus = {(t.epochs_a, t.epochs_b): t for t in table.taus}
    expected = kendalltau([0.70, 0.90, 0.80], [0.86, 0.91, 0.85]).statistic
    assert taus[(5, 10)].n == 3 and taus[(5, 10)].tau == pytest.approx(expected)
    assert f"Kendall's tau {expected:.2f} over 3 policies" in taus[(5, 10)].sentence
    assert taus[(5, 20)].n == 2 and taus[(5, 20)].tau is None
    assert "too few to compare" in taus[(5, 20)].sentence
    assert table.first_last is taus[(5, 20)]


def test_tau_of_a_planted_ranking_that_keep_one_measures_on_every_policy() -> None:
    keep_all = HalvingSettings(rungs=[2, 8], keep=1, min_keep=1, final_seeds=[0])
    short = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    long = [0.15, 0.1, 0.35, 0.3, 0.6, 0.55]  # three adjacent swaps: 12 of 15 pairs agree
    runs = [Run("byol", f"p{i}", v, 0, 2) for i, v in enumerate(short)]
    runs += [Run("byol", f"p{i}", v, 1, 8) for i, v in enumerate(long)]
    (table,) = rung_tables(runs, keep_all, [], base="")
    (tau,) = table.taus
    assert tau.n == 6 and tau.tau == pytest.approx((12 - 3) / 15)
    assert tau.sentence.startswith("byol: the 2-epoch ranking predicts the 8-epoch one: "
                                   "Kendall's tau 0.60 over 6 policies")
    assert all(cells[0].promoted for cells in table.cells.values())
    reversed_runs = runs[:6] + [Run("byol", f"p{i}", -v, 1, 8) for i, v in enumerate(short)]
    (backwards,) = rung_tables(reversed_runs, keep_all, [], base="").pop().taus
    assert backwards.tau == pytest.approx(-1.0) and "does not predict" in backwards.sentence


def test_a_halving_study_ranks_its_last_rung_and_shows_every_rung(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = {"val": split(240, rng, 0), "test": split(200, rng, 10_000)}
    study = tmp_path / "study"
    study.mkdir()
    (study / "study.yaml").write_text(yaml.safe_dump({
        "name": "study", "objective": {"metric": "auroc", "fraction": 1.0},
        "space": {"kind": "list", "policies": ["crop", "crop+flip", "crop+blur", "identity"]},
        "halving": {"rungs": [1, 3], "keep": 0.5, "min_keep": 2, "final_seeds": [0, 1],
                    "keep_base": False}}))
    signals = {"crop": 0.5, "crop+flip": 2.0, "crop+blur": 1.2, "identity": 0.2}
    for i, (policy, signal) in enumerate(signals.items()):
        write_run(study, f"simclr_{i}_e1", RunIdentity(
            kind="trial", method="simclr", policy=policy, seed=0, rung=0, epochs=1),
            signal, signal, data, seed=i)
    for seed in (0, 1):
        for policy in ("crop+flip", "crop+blur"):
            write_run(study, f"simclr_{policy}_{seed}_e3", RunIdentity(
                kind="trial", method="simclr", policy=policy, seed=seed, rung=1, epochs=3),
                signals[policy] + 0.5, signals[policy] + 0.5, data, seed=10 + seed)
    results = write_results(study, n_boot=100)
    assert {(t.view1, t.rung) for t in results.trials} == {("crop+flip", 1), ("crop+blur", 1)}
    assert len(results.trials) == 4  # two finalists x two final seeds
    (table,) = results.rungs
    promoted = {p.label for p, cells in table.cells.items() if cells[0].promoted}
    assert promoted == {"crop+flip", "crop+blur"}
    rows = list(csv.DictReader((study / "results" / "rungs.csv").open()))
    assert len(rows) == 4 + 2
    flip = next(r for r in rows if r["policy"] == "crop+flip" and r["rung"] == "0")
    assert flip["epochs"] == "1" and flip["promoted"] == "true"
    crop = next(r for r in rows if r["policy"] == "crop")
    assert crop["promoted"] == "false" and float(crop["val_auroc"]) < float(flip["val_auroc"])
    markdown = (study / "results" / "results.md").read_text()
    assert "## Rungs (successive halving)" in markdown
    assert "| method | policy | 1 epoch | 3 epochs |" in markdown
    assert "the 1-epoch ranking and the 3-epoch one: too few to compare" in markdown
    page = build_report(study).read_text(encoding="utf-8")
    assert "Rungs (successive halving)" in page and "too few to compare" in page
    assert page.index("Policy ranking and runs") < page.index("Rungs (successive halving)")


def test_a_study_without_halving_has_no_rungs_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    data = {"val": split(120, rng, 0), "test": split(100, rng, 10_000)}
    study = tmp_path / "plain"
    study.mkdir()
    for i, policy in enumerate(("crop", "crop+flip")):
        write_run(study, f"t{i}", RunIdentity(kind="trial", method="simclr", policy=policy,
                                              seed=0, epochs=15), 1.0 + i, 1.0, data, seed=i)
    results = write_results(study, n_boot=50)
    assert results.rungs == [] and len(results.trials) == 2
    assert not (study / "results" / "rungs.csv").exists()
