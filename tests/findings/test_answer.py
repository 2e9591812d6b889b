"""The answer: per method and body part the policy (over its seeds) selected on val, its
pooled test figures and its differences to the base policy and the floors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.metrics import cohen_kappa_score, roc_auc_score

from xrayssl.evaluate.metrics import choose_threshold
from xrayssl.evaluate.uncertainty import paired_seed_difference, seed_interval
from xrayssl.findings.answer import OLD_PARTS, STUDY_LEVEL, Answer, Selected
from xrayssl.findings.collect import write_results
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

N_VAL, N_TEST = 240, 200  # two images per patient; first half elbow, second half wrist
PARTS = ("elbow", "wrist")
SEEDS = (0, 1, 2)
N_BOOT = 200
# A value no computed figure is near: the recorded test AUROC of a policy never selected.
HIDDEN = Estimate(value=0.9871, lo=0.9613, hi=0.9958)
# Class separation per policy on (elbow, wrist) images, on val and on test. crop+flip is best
# on val overall and on elbow; crop+blur is best on wrist val; crop+rot is weak on val and
# strong on test (the temptation, never selected).
SIGNAL = {
    "crop": {"val": (0.3, 0.3), "test": (0.3, 0.3)},
    "crop+flip": {"val": (2.4, 1.2), "test": (1.8, 1.0)},
    "crop+blur": {"val": (0.6, 2.0), "test": (0.5, 1.6)},
    "crop+rot": {"val": (0.2, 0.2), "test": (2.5, 2.5)},
}
FLOOR_SIGNAL = {"raw": 0.4, "random": 0.1, "supervised": 0.9}
STUDY_OFFSET = 0.01


def halves(n: int, values: tuple[float, float]) -> np.ndarray:
    return np.repeat(np.asarray(values), n // 2)  # (N,) elbow then wrist


def split(n: int, labels: np.ndarray, offset: int, parts: bool) -> HeldOutSplit:
    image_parts = [PARTS[i * 2 // n] for i in range(n)]
    return HeldOutSplit(how="seeded by patient", indices=list(range(offset, offset + n)),
                        labels=labels.tolist(), clusters=[f"p{offset + i // 2}" for i in range(n)],
                        n=n, n_positive=int(labels.sum()), n_patients=n // 2,
                        body_parts=list(PARTS), image_parts=image_parts if parts else None)


def predictions(labels: np.ndarray, signal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    logits = signal * labels[None, :] + rng.normal(0, 1, (2, len(labels)))  # (S=2, N)
    out: np.ndarray = 1 / (1 + np.exp(-logits))
    return out


def block(labels: np.ndarray, probs: np.ndarray, cuts: list[float],
          planted: Estimate | None = None) -> SplitScores:
    """Recorded scores as the evaluation writes them (CIs are placeholders here)."""
    def group(mask: np.ndarray, estimate: Estimate | None = None) -> GroupScores:
        auroc = float(np.mean([roc_auc_score(labels[mask], p[mask]) for p in probs]))
        shown = estimate or Estimate(value=auroc, lo=auroc - 0.05, hi=min(1.0, auroc + 0.05))
        kappa = Estimate(value=0.1, lo=0.0, hi=0.2)
        return GroupScores(image=Scores(metrics={"auroc": shown, "kappa": kappa},
                                        threshold=cuts))

    half = np.arange(len(labels)) < len(labels) // 2
    overall = group(np.ones(len(labels), dtype=bool), planted)
    assert overall.image is not None
    image = overall.image.metrics["auroc"].value
    assert image is not None  # study level: recorded as the image value less STUDY_OFFSET
    overall.study = Scores(metrics={"auroc": Estimate(value=image - STUDY_OFFSET, lo=0.5,
                                                      hi=0.99)})
    return SplitScores(overall=overall,
                       by_body_part={"elbow": group(half), "wrist": group(~half)},
                       predictions=probs.tolist())


class Planted:
    """A study folder and the predictions behind it, for direct computation."""

    def __init__(self, root: Path, *, parts: bool = True, poison: bool = False,
                 seeds: tuple[int, ...] = SEEDS, level: str = "image") -> None:
        rng = np.random.default_rng(0)
        self.y_val = rng.integers(0, 2, N_VAL)
        self.y_test = rng.integers(0, 2, N_TEST)
        labels_test = 1 - self.y_test if poison else self.y_test
        self.val_split = split(N_VAL, self.y_val, 0, parts)
        self.test_split = split(N_TEST, labels_test, 10_000, parts)
        self.study = root / "study"
        self.study.mkdir(parents=True)
        (self.study / "study.yaml").write_text(yaml.safe_dump(
            {"objective": {"metric": "auroc", "fraction": 1.0, "level": level},
             "space": {"kind": "ablation", "base": "crop", "ops": ["flip", "blur", "rot"]}}))
        self.val: dict[str, list[np.ndarray]] = {}
        self.test: dict[str, list[np.ndarray]] = {}
        self.cuts: dict[str, list[list[float]]] = {}
        self.folders: dict[str, list[str]] = {}
        for policy, signal in SIGNAL.items():
            for seed in seeds:
                self.write(f"t-{policy}-s{seed}", policy,
                           RunIdentity(kind="trial", method="simclr", policy=policy, seed=seed),
                           halves(N_VAL, signal["val"]), halves(N_TEST, signal["test"]), rng,
                           HIDDEN if policy == "crop+rot" else None)
        for kind, strength in FLOOR_SIGNAL.items():
            self.write(f"baselines/{kind}", kind, RunIdentity(kind="baseline", baseline=kind),
                       np.full(N_VAL, 0.8), np.full(N_TEST, strength), rng)

    def write(self, folder: str, name: str, identity: RunIdentity, val_signal: np.ndarray,
              test_signal: np.ndarray, rng: np.random.Generator,
              planted: Estimate | None = None) -> None:
        val = predictions(self.y_val, val_signal, rng)
        test = predictions(self.y_test, test_signal, rng)
        cuts = [choose_threshold(self.y_val, p) for p in val]  # each fit's own, on val
        labels_test = np.asarray(self.test_split.labels)
        metrics = RunMetrics(
            run=identity, splits={"val": self.val_split, "test": self.test_split},
            fractions={"1": FractionResult(fraction=1.0, scores={
                "val": block(self.y_val, val, cuts),
                "test": block(labels_test, test, cuts, planted)})})
        (self.study / folder).mkdir(parents=True)
        metrics.write(self.study / folder / "metrics.json")
        self.val.setdefault(name, []).append(val)
        self.test.setdefault(name, []).append(test)
        self.cuts.setdefault(name, []).append(cuts)
        self.folders.setdefault(name, []).append(folder)

    def mean_auroc(self, name: str, split: str, mask: np.ndarray) -> float:
        y = self.y_val if split == "val" else self.y_test
        sets = self.val[name] if split == "val" else self.test[name]
        return float(np.mean([roc_auc_score(y[mask], p[mask]) for s in sets for p in s]))

    def mean_kappa(self, name: str, mask: np.ndarray) -> float:
        return float(np.mean([
            cohen_kappa_score(self.y_test[mask], (p[mask] >= t).astype(int))
            for s, cuts in zip(self.test[name], self.cuts[name], strict=True)
            for p, t in zip(s, cuts, strict=True)]))

    def stack(self, name: str, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.stack(self.test[name])[..., mask], np.asarray(self.cuts[name])

    def part_mask(self, n: int, part: str | None) -> np.ndarray:
        if part is None:
            return np.ones(n, dtype=bool)
        return np.arange(n) // (n // 2) == PARTS.index(part)


def row(answer: Answer, part: str | None) -> Selected:
    return next(s for s in answer.selected if s.body_part == part)


def test_selected_policy_is_pooled_over_its_seeds(tmp_path: Path) -> None:
    planted = Planted(tmp_path)
    answer = write_results(planted.study, n_boot=N_BOOT).answer
    assert answer is not None
    for part, expected in ((None, "crop+flip"), ("elbow", "crop+flip"), ("wrist", "crop+blur")):
        val_mask = planted.part_mask(N_VAL, part)
        test_mask = planted.part_mask(N_TEST, part)
        val_best = max(SIGNAL, key=lambda p: planted.mean_auroc(p, "val", val_mask))
        assert val_best == expected  # the planted study is what it means to be
        chosen = row(answer, part)
        assert chosen.policy == expected and chosen.seeds == list(SEEDS)
        assert chosen.folders == planted.folders[expected] and chosen.n_subsets == 2
        assert chosen.val_value == pytest.approx(planted.mean_auroc(expected, "val", val_mask))
        assert chosen.test_value == pytest.approx(
            planted.mean_auroc(expected, "test", test_mask))
        assert chosen.test_other == pytest.approx(planted.mean_kappa(expected, test_mask))
        y, clusters = planted.y_test[test_mask], np.asarray(
            planted.test_split.clusters)[test_mask]
        probs, cuts = planted.stack(expected, test_mask)
        interval = seed_interval(y, probs, clusters, n_boot=N_BOOT, seed=0, thresholds=cuts)
        assert (chosen.test_lo, chosen.test_hi) == pytest.approx((interval.lo, interval.hi))
        assert chosen.test_lo < chosen.test_value < chosen.test_hi
        for reference in ("crop", "raw", "random", "supervised"):
            name = "base" if reference == "crop" else reference
            d = chosen.versus[name]
            assert d.delta == pytest.approx(planted.mean_auroc(expected, "test", test_mask)
                                            - planted.mean_auroc(reference, "test", test_mask))
            ref_probs, ref_cuts = planted.stack(reference, test_mask)
            direct = paired_seed_difference(y, ref_probs, probs, clusters, n_boot=N_BOOT,
                                            seed=0, thresholds_a=ref_cuts, thresholds_b=cuts)
            assert (d.lo, d.hi, d.p) == pytest.approx((direct.lo, direct.hi, direct.p_value))
        assert chosen.versus["base"].lo > 0  # crop is planted far below both winners
        assert chosen.top_set and chosen.top_set[0][0] == expected
        assert "crop" not in [name for name, _ in chosen.top_set]
        assert chosen.val is not None and chosen.test is not None
        assert (chosen.val.images, chosen.test.images) == (val_mask.sum(), test_mask.sum())
        assert (chosen.val.patients, chosen.test.patients) == (val_mask.sum() // 2,
                                                               test_mask.sum() // 2)
    # Only the selected policies, the base and the floors were read on test.
    allowed = {f for name in ("crop+flip", "crop+blur", "crop", *FLOOR_SIGNAL)
               for f in planted.folders[name]}
    assert set(answer.read_on_test) <= allowed
    assert not set(answer.read_on_test) & set(planted.folders["crop+rot"])

    markdown = (planted.study / "results" / "results.md").read_text()
    html = build_report(planted.study).read_text(encoding="utf-8")
    csv = (planted.study / "results" / "answer.csv").read_text()
    overall = row(answer, None)
    sentence = (f"selected on val ({N_VAL} images, {N_VAL // 2} patients), "
                f"reported on test ({N_TEST} images, {N_TEST // 2} patients)")
    # (the report draws its own bootstrap, so only the markdown shows these very CIs)
    assert f"{overall.test_value:.3f} [{overall.test_lo:.3f}, {overall.test_hi:.3f}]" in markdown
    for page in (markdown, html):
        assert sentence in page
        assert f"{overall.test_value:.3f}" in page
        assert "3 seeds (0, 1, 2) x 2 label subsets" in page
        wrist = row(answer, "wrist").versus["raw"]
        assert f"{wrist.delta:+.3f}" in page
        for hidden in (HIDDEN.value, HIDDEN.lo, HIDDEN.hi):
            assert hidden is not None and f"{hidden:.3f}" not in page
    assert f"{overall.test_value:.4f}" in csv and "wrist" in csv
    assert markdown.index("## Answer") < markdown.index("## Policy ranking on val per method")
    assert html.index('<section id="answer">') < html.index('<section id="results">')


@pytest.mark.parametrize("raw_wins", [False, True])
def test_headline_says_first_when_ssl_does_not_beat_raw(tmp_path: Path, raw_wins: bool,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FLOOR_SIGNAL, "raw", 3.5 if raw_wins else 0.2)
    planted = Planted(tmp_path)
    results = write_results(planted.study, n_boot=N_BOOT)
    assert results.answer is not None
    markdown = (planted.study / "results" / "results.md").read_text()
    said = "SSL did not beat raw pixels here"
    assert results.answer.headline.startswith(said) == raw_wins
    assert (said in markdown) == raw_wins


def test_old_run_files_without_image_parts_still_answer(tmp_path: Path) -> None:
    planted = Planted(tmp_path, parts=False)
    answer = write_results(planted.study, n_boot=N_BOOT).answer
    assert answer is not None
    overall = row(answer, None)
    assert overall.policy == "crop+flip" and set(overall.versus) == {"base", "raw", "random",
                                                                     "supervised"}
    for part in PARTS:
        chosen = row(answer, part)
        assert chosen.versus == {} and chosen.top_set == []
        # The recorded per-part test value of the part's val-best policy, mean over its seeds.
        mask = planted.part_mask(N_TEST, part)
        assert chosen.test_value == pytest.approx(
            planted.mean_auroc(chosen.policy, "test", mask))
    assert row(answer, "wrist").policy == "crop+blur"
    assert OLD_PARTS in answer.notes
    assert OLD_PARTS in (planted.study / "results" / "results.md").read_text()


def test_poisoned_test_labels_change_only_test_figures(tmp_path: Path) -> None:
    clean = write_results(Planted(tmp_path / "clean").study, n_boot=N_BOOT).answer
    poisoned = write_results(Planted(tmp_path / "poisoned", poison=True).study,
                             n_boot=N_BOOT).answer
    assert clean is not None and poisoned is not None
    for a, b in zip(clean.selected, poisoned.selected, strict=True):
        assert (a.method, a.body_part, a.policy, a.seeds, a.val_value, a.top_set, a.val) == (
            b.method, b.body_part, b.policy, b.seeds, b.val_value, b.top_set, b.val)
        # Flipped labels turn each AUROC into 1 - AUROC: the test figures move, and only they.
        assert a.test_value + b.test_value == pytest.approx(1.0)


def test_a_policy_with_one_seed_still_answers(tmp_path: Path) -> None:
    planted = Planted(tmp_path, seeds=(4,))
    answer = write_results(planted.study, n_boot=N_BOOT).answer
    assert answer is not None
    chosen = row(answer, None)
    assert chosen.policy == "crop+flip" and chosen.seeds == [4]
    assert chosen.seeds_text == "1 seed (4) x 2 label subsets"
    mask = planted.part_mask(N_TEST, None)
    assert chosen.test_value == pytest.approx(planted.mean_auroc("crop+flip", "test", mask))
    probs, cuts = planted.stack("crop+flip", mask)
    interval = seed_interval(planted.y_test, probs, np.asarray(planted.test_split.clusters),
                             n_boot=N_BOOT, seed=0, thresholds=cuts)
    assert (chosen.test_lo, chosen.test_hi) == pytest.approx((interval.lo, interval.hi))
    assert set(chosen.versus) == {"base", "raw", "random", "supervised"}
    markdown = (planted.study / "results" / "results.md").read_text()
    assert "with one seed it carries patients and subsets only" in markdown


def test_study_level_objective_answers_from_recorded_values(tmp_path: Path) -> None:
    planted = Planted(tmp_path, level="study")
    answer = write_results(planted.study, n_boot=N_BOOT).answer
    assert answer is not None
    chosen = row(answer, None)
    everything = planted.part_mask(N_TEST, None)
    assert chosen.policy == "crop+flip" and chosen.versus == {} and chosen.top_set == []
    assert chosen.test_value == pytest.approx(
        planted.mean_auroc("crop+flip", "test", everything) - STUDY_OFFSET)
    assert any(STUDY_LEVEL in note for note in answer.notes)
    assert set(answer.read_on_test) <= {f for name in ("crop+flip", *FLOOR_SIGNAL)
                                        for f in planted.folders[name]}


def test_a_list_study_has_no_base_and_says_nothing_is_missing(tmp_path: Path) -> None:
    planted = Planted(tmp_path)
    (planted.study / "study.yaml").write_text(yaml.safe_dump(
        {"objective": {"metric": "auroc", "fraction": 1.0, "level": "image"},
         "space": {"kind": "list", "policies": list(SIGNAL)}}))
    results = write_results(planted.study, n_boot=N_BOOT)
    assert results.answer is not None
    assert not any("base policy has no ranked trial" in note for note in results.notes)
    assert "base" not in row(results.answer, None).versus


def test_the_answer_as_latex_and_the_figures_as_files_for_a_paper(tmp_path: Path) -> None:
    from xrayssl.report.figure_files import write_figures

    planted = Planted(tmp_path)
    results = write_results(planted.study, n_boot=N_BOOT)
    assert results.answer is not None
    chosen = row(results.answer, None)
    tex = (planted.study / "results" / "answer.tex").read_text()
    assert "\\begin{tabular}" in tex and "\\bottomrule" in tex
    line = next(x for x in tex.splitlines() if x.startswith("simclr &"))
    assert f"{chosen.test_value:.3f} [{chosen.test_lo:.3f}, {chosen.test_hi:.3f}]" in line
    raw = chosen.versus["raw"]
    assert f"{raw.delta:+.3f} [{raw.lo:+.3f}, {raw.hi:+.3f}]" in line
    assert chosen.policy.replace("_", "\\_") in line
    written = write_figures(results)
    names = {p.name for p in written}
    assert {"decision.png", "decision.svg", "op_effects.png", "op_effects.svg"} <= names
    assert all(p.stat().st_size > 1000 for p in written)
    assert (planted.study / "results" / "figures" / "op_effects.svg").read_text().lstrip(
        ).startswith("<?xml")
