"""The run-folder schema: round trips, files of format 1, and clear errors for bad files.

``metrics_v1.json`` was written by the format-1 writer (``evaluate/run.py`` before this schema)
on ``build_signal_cache(n=96, size=8)`` with the ``CONFIG`` below; only its timings were zeroed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import MakeCache

from xrayssl.config.probe import ProbeConfig
from xrayssl.errors import XraySSLError
from xrayssl.evaluate.floors import RawPixels
from xrayssl.evaluate.run import evaluate_encoder
from xrayssl.runs.folder import find_runs, read_run
from xrayssl.runs.metrics_file import (
    DataInfo,
    Estimate,
    FractionResult,
    GroupScores,
    HeldOutSplit,
    Level,
    ProbeFit,
    RunIdentity,
    RunKind,
    RunMetrics,
    Scores,
    SplitScores,
)
from xrayssl.runs.trial_config import TrialConfig

V1_FILE = Path(__file__).with_name("metrics_v1.json")
LEVELS: tuple[Level, ...] = ("image", "study")
CONFIG = ProbeConfig(fractions=[0.5, 1.0], seeds=2, n_bootstrap=20, cs=[0.1, 1.0], cv_folds=2)


def small_run(kind: RunKind = "trial") -> RunMetrics:
    scores = Scores(metrics={"auroc": Estimate(value=0.8, lo=0.7, hi=0.9),
                             "kappa": Estimate(value=None)}, n=4, n_positive=2)
    return RunMetrics(
        run=RunIdentity(kind=kind, method="byol", policy="crop+flip", policy_b="crop", seed=3,
                        key="byol|crop+flip|crop|3", epochs=5),
        model={"spec": {"name": "tiny"}},
        data=DataInfo(cache="/c", config_hash="h", image_size=8, body_parts=["hand"]),
        splits={"test": HeldOutSplit(how="made here", indices=[4, 1, 7, 9], labels=[0, 1, 1, 0],
                                     clusters=["a", "b", "b", "c"], n=4)},
        fractions={"1": FractionResult(
            fraction=1.0, fits=[ProbeFit(seed=0, n_train=10, fitted={"C": 0.1})],
            scores={"test": SplitScores(overall=GroupScores(image=scores),
                                        predictions=[[0.1, 0.9, 0.6, 0.3]])})},
    )


def test_metrics_round_trip(tmp_path: Path) -> None:
    run = small_run()
    run.write(tmp_path / "metrics.json")
    assert json.loads((tmp_path / "metrics.json").read_text())["format"] == "xrayssl-run-v2"
    back = RunMetrics.read(tmp_path / "metrics.json")
    assert back == run
    assert back.estimate("auroc", 1.0) == Estimate(value=0.8, lo=0.7, hi=0.9)
    assert back.estimate("kappa", 1.0) is None  # undefined, not a number
    assert back.estimate("auroc", 0.5) is None and back.scores(1.0, split="val") is None


def test_evaluation_round_trips_through_the_file(make_cache: MakeCache, tmp_path: Path) -> None:
    result = evaluate_encoder(RawPixels(4), make_cache(n=96, size=8), config=CONFIG)
    result.write(tmp_path / "metrics.json")
    assert RunMetrics.read(tmp_path / "metrics.json") == result


def test_format_1_file_reads_with_its_numbers() -> None:
    raw = json.loads(V1_FILE.read_text())
    metrics = RunMetrics.read(V1_FILE, config={"method": "simclr", "policy": "crop", "seed": 0})
    assert metrics.run == RunIdentity(kind="trial", method="simclr", policy="crop", seed=0)
    assert set(metrics.fractions) == set(raw["results"]) == {"0.5", "1"}
    for key, block in raw["results"].items():
        scores = metrics.fractions[key].scores["test"]
        image = block["metrics"]["overall"]["image"]
        for name in ("auroc", "kappa", "accuracy", "f1"):
            assert scores.estimate(name) == Estimate(**image[name]), (key, name)
        assert scores.overall.image is not None and scores.overall.image.n == image["n"]
        assert scores.predictions == raw["predictions"]["by_fraction"][key]
        assert [f.seed for f in metrics.fractions[key].fits] == [r["seed"] for r in block["runs"]]
        assert metrics.fractions[key].fits[0].fitted["C"] == block["runs"][0]["C"]
    spread = metrics.fractions["0.5"].scores["test"].seed_spread["auroc"]
    assert spread.values == raw["results"]["0.5"]["seed_spread"]["auroc"]["values"]
    split = metrics.splits["test"]
    assert split.how == "cache splits: train -> valid"
    assert split.indices == raw["predictions"]["test_indices"]
    assert split.labels == raw["predictions"]["labels"]
    assert split.n == raw["data"]["n_test"] and metrics.train.n == raw["data"]["n_train"]
    # without config.yaml a format-1 file is a lone probe output
    assert RunMetrics.read(V1_FILE).run.kind == "probe"


def test_the_new_writer_keeps_the_test_images_of_format_1(make_cache: MakeCache) -> None:
    """The same encoder, cache and settings as the stored file: the same test images.

    Format 1 fitted on the whole source train split and scored the source's valid split; the
    protocol scores that split as its test too, but fits on train minus a val carved out of
    it (val now selects), so the numbers differ by design and only the test images match.
    """
    old = RunMetrics.read(V1_FILE)
    # The stored file was written by the lbfgs probe; newton-cholesky converges further, so
    # its probabilities differ in the fifth decimal. Same solver, same numbers.
    lbfgs = CONFIG.model_copy(update={"solver": "lbfgs"})
    new = evaluate_encoder(RawPixels(4), make_cache(n=96, size=8), config=lbfgs)
    assert new.splits["test"].indices == old.splits["test"].indices
    val = set(new.splits["val"].indices or [])
    assert val and not val & set(new.splits["test"].indices or [])
    assert set(old.fractions) == set(new.fractions)
    assert new.train.n is not None and old.train.n is not None
    assert new.train.n + len(val) == old.train.n  # val came out of the old training images


def test_unknown_and_malformed_files_say_how_to_rebuild(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    cases = {
        "{not json": "could not be read",
        json.dumps({"format": "xrayssl-run-v9", "fractions": {}}): "format 'xrayssl-run-v9'",
        json.dumps({"results": {}}): "no format field",
        json.dumps({"format": "xrayssl-metrics-v1", "results": []}): "no 'results' mapping",
        json.dumps({**small_run().model_dump(mode="json"), "fractions": [1]}): "fractions",
        json.dumps({"format": "xrayssl-metrics-v1",
                    "results": {"1": {"fraction": "all"}}}): "malformed",
    }
    for text, message in cases.items():
        path.write_text(text)
        with pytest.raises(XraySSLError, match=message) as err:
            RunMetrics.read(path)
        assert str(path) in str(err.value) and "ebuild" in str(err.value), text


def test_trial_config_round_trip_and_old_files(tmp_path: Path) -> None:
    config = TrialConfig(study="s", key="k", method="simclr", policy="crop", policy_b=None,
                         seed=1, pretrain={"epochs": 2}, probe={}, objective={"metric": "auroc"})
    config.write(tmp_path / "config.yaml")
    assert TrialConfig.read(tmp_path / "config.yaml") == config
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(  # as trials wrote it before the schema
        {"study": "s", "key": "k", "method": "byol", "policy": "crop", "policy_b": None,
         "seed": 0, "pretrain": {}, "probe": {}, "objective": {}}))
    assert TrialConfig.read(tmp_path / "old.yaml").method == "byol"
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"method": "byol", "polcy": "crop"}))
    with pytest.raises(XraySSLError, match=r"bad\.yaml.*polcy"):
        TrialConfig.read(tmp_path / "bad.yaml")


def test_runs_are_found_two_levels_down_and_named_by_their_files(tmp_path: Path) -> None:
    study = tmp_path / "study"
    for folder, kind in (("t1", "trial"), ("baselines/random", "baseline"),
                         ("cache/x", "trial"), ("gradcam", "trial")):
        (study / folder).mkdir(parents=True)
        small_run(kind).write(study / folder / "metrics.json")
    TrialConfig(method="byol", policy="crop+flip").write(study / "t1" / "config.yaml")
    found = find_runs(study)
    assert [p.relative_to(study).as_posix() for p in found] == ["baselines/random", "t1"]
    record = read_run(study / "t1", study)
    assert record.name == "t1" and record.config is not None
    assert record.config.policy == "crop+flip" and record.metrics.run.kind == "trial"


def test_rung_and_epochs_round_trip_and_files_without_them_still_read(tmp_path: Path) -> None:
    run = small_run()
    run.run.rung, run.run.epochs = 2, 20
    run.write(tmp_path / "metrics.json")
    back = RunMetrics.read(tmp_path / "metrics.json")
    assert (back.run.rung, back.run.epochs) == (2, 20) and back == run
    data = json.loads((tmp_path / "metrics.json").read_text())
    del data["run"]["rung"]  # a file from before successive halving
    (tmp_path / "old.json").write_text(json.dumps(data))
    assert RunMetrics.read(tmp_path / "old.json").run.rung is None

    config = TrialConfig(study="s", key="k|e20", method="simclr", policy="crop", seed=1,
                         rung=2, epochs=20)
    config.write(tmp_path / "config.yaml")
    assert TrialConfig.read(tmp_path / "config.yaml") == config
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["rung"] == 2
    plain = TrialConfig(study="s", key="k", method="simclr", policy="crop")
    assert (plain.rung, plain.epochs) == (None, None)
