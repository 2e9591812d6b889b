"""The answer: the run selected on val, its test figures, its differences to the base and floors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.metrics import roc_auc_score

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
from xrayssl.study.results import write_results

N_VAL, N_TEST = 240, 200  # two images per patient
PARTS = ("elbow", "wrist")
# A value no computed figure of this study is near: the test AUROC planted in the test block of
# a policy that was NOT selected on val (it is higher than the selected one's, the temptation).
HIDDEN = Estimate(value=0.9871, lo=0.9613, hi=0.9958)


def split(n: int, rng: np.random.Generator, offset: int) -> tuple[HeldOutSplit, np.ndarray]:
    labels = rng.integers(0, 2, n)
    clusters = [f"p{offset + i // 2}" for i in range(n)]
    held = HeldOutSplit(how="seeded by patient", indices=list(range(offset, offset + n)),
                        labels=labels.tolist(), clusters=clusters, n=n,
                        n_positive=int(labels.sum()), n_patients=n // 2, body_parts=list(PARTS))
    return held, labels


def scores(labels: np.ndarray, signal: float, rng: np.random.Generator,
           planted: Estimate | None = None) -> SplitScores:
    """Two label subsets' predictions; a higher ``signal`` separates the classes better."""
    logits = signal * labels[None, :] + rng.normal(0, 1, (2, len(labels)))  # (S=2, N)
    probs = 1 / (1 + np.exp(-logits))
    auroc = float(roc_auc_score(labels, probs.mean(axis=0)))
    shown = planted or Estimate(value=auroc, lo=auroc - 0.04, hi=min(1.0, auroc + 0.03))
    kappa = Estimate(value=round(auroc - 0.41, 4), lo=round(auroc - 0.47, 4),
                     hi=round(auroc - 0.36, 4))

    def group(value: Estimate) -> GroupScores:
        return GroupScores(image=Scores(metrics={"auroc": value, "kappa": kappa}, threshold=0.5))

    half = len(labels) // 2
    parts = {}
    for i, part in enumerate(PARTS):
        cut = slice(i * half, (i + 1) * half)
        value = float(roc_auc_score(labels[cut], probs.mean(axis=0)[cut]))
        parts[part] = group(Estimate(value=value, lo=value - 0.06, hi=min(1.0, value + 0.05)))
    return SplitScores(overall=group(shown), by_body_part=parts, predictions=probs.tolist())


def write_run(study: Path, folder: str, identity: RunIdentity, val_signal: float,
              test_signal: float, data: dict[str, tuple[HeldOutSplit, np.ndarray]],
              seed: int, planted: Estimate | None = None) -> RunMetrics:
    rng = np.random.default_rng(seed)
    (val, y_val), (test, y_test) = data["val"], data["test"]
    metrics = RunMetrics(
        run=identity, splits={"val": val, "test": test},
        fractions={"1": FractionResult(fraction=1.0, scores={
            "val": scores(y_val, val_signal, rng),
            "test": scores(y_test, test_signal, rng, planted)})})
    (study / folder).mkdir(parents=True)
    metrics.write(study / folder / "metrics.json")
    return metrics


def make_study(root: Path, raw_test_signal: float) -> dict[str, RunMetrics]:
    rng = np.random.default_rng(0)
    data = {"val": split(N_VAL, rng, 0), "test": split(N_TEST, rng, 10_000)}
    study = root / "study"
    study.mkdir()
    (study / "study.yaml").write_text(yaml.safe_dump(
        {"objective": {"metric": "auroc", "fraction": 1.0},
         "space": {"kind": "ablation", "base": "crop", "ops": ["flip", "blur"]}}))
    runs = {}

    def trial(folder: str, policy: str, val: float, test: float, seed: int,
              planted: Estimate | None = None) -> None:
        runs[folder] = write_run(study, folder, RunIdentity(kind="trial", method="simclr",
                                                            policy=policy, seed=0),
                                 val, test, data, seed, planted)

    trial("t-base", "crop", 0.2, 0.2, 1)
    trial("t-flip", "crop+flip", 1.4, 1.0, 2)  # the val-best
    trial("t-blur", "crop+blur", 0.7, 1.3, 3, HIDDEN)  # second on val, best on test: hidden
    for i, (kind, test) in enumerate((("raw", raw_test_signal), ("random", 0.1),
                                      ("supervised", 0.4))):
        runs[kind] = write_run(study, f"baselines/{kind}",
                               RunIdentity(kind="baseline", baseline=kind), 0.8, test, data,
                               10 + i)
    return runs


@pytest.mark.parametrize("raw_wins", [False, True])
def test_answer_reports_the_val_selected_run_on_test(tmp_path: Path, raw_wins: bool) -> None:
    runs = make_study(tmp_path, raw_test_signal=1.9 if raw_wins else 0.3)
    study = tmp_path / "study"
    results = write_results(study, n_boot=200)
    answer = results.answer
    assert answer is not None
    overall = [s for s in answer.selected if s.body_part is None]
    assert [(s.method, s.policy, s.folder) for s in overall] == [("simclr", "crop+flip",
                                                                  "t-flip")]
    chosen = overall[0]
    block = runs["t-flip"].fractions["1"].scores["test"].overall.image
    assert block is not None
    auroc, kappa = block.metrics["auroc"], block.metrics["kappa"]
    assert (chosen.test_value, chosen.test_lo, chosen.test_hi) == (auroc.value, auroc.lo,
                                                                   auroc.hi)
    assert (chosen.test_other, chosen.test_other_lo, chosen.test_other_hi) == (
        kappa.value, kappa.lo, kappa.hi)
    assert set(chosen.versus) == {"base", "raw", "random", "supervised"}
    assert chosen.versus["base"].lo > 0 and chosen.versus["random"].lo > 0
    assert (chosen.versus["raw"].hi < 0) == raw_wins and (chosen.versus["raw"].lo > 0) != raw_wins
    assert "crop+flip" in chosen.top_set and "crop" not in chosen.top_set
    # Per body part: the val-best on that part, with that part's test figures.
    for part in PARTS:
        row = next(s for s in answer.selected if s.body_part == part)
        val_best = max(("t-base", "t-flip", "t-blur"), key=lambda f: runs[f].fractions["1"]
                       .scores["val"].by_body_part[part].image.metrics["auroc"].value)
        assert row.folder == val_best
        part_block = runs[val_best].fractions["1"].scores["test"].by_body_part[part].image
        assert part_block is not None and row.test_value == part_block.metrics["auroc"].value

    markdown = (study / "results" / "results.md").read_text()
    html = build_report(study).read_text(encoding="utf-8")
    sentence = (f"selected on val ({N_VAL} images, {N_VAL // 2} patients), "
                f"reported on test ({N_TEST} images, {N_TEST // 2} patients)")
    for page in (markdown, html):
        assert sentence in page
        assert f"{auroc.value:.3f}" in page
        for hidden in (HIDDEN.value, HIDDEN.lo, HIDDEN.hi):
            assert hidden is not None and f"{hidden:.3f}" not in page
        assert ("SSL did not beat raw pixels here" in page) == raw_wins
    # The answer comes first.
    assert markdown.index("## Answer") < markdown.index("## Best policy per method")
    assert html.index('<section id="answer">') < html.index('<section id="results">')
    assert html.index('<section id="answer">') < html.index(sentence)
