"""`xrayssl study plan`: the trials, what is done, a measured time estimate; writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import build_signal_cache

from study.fake_trial import make_fake_trial, write_config
from xrayssl.cli import run
from xrayssl.config.study import StudyConfig
from xrayssl.study.plan import make_plan
from xrayssl.study.runner import StudyRunner


def tiny_config(tmp_path: Path, runs_dir: Path) -> StudyConfig:
    cache = build_signal_cache(tmp_path / "cache", n=48, size=32)
    return StudyConfig.model_validate({
        "name": "tiny", "runs_dir": str(runs_dir), "data": {"cache": str(cache.root)},
        "methods": ["simclr", "byol"], "seeds": [0],
        "pretrain": {"encoder": "resnet_tiny", "epochs": 3, "batch_size": 8, "workers": 0},
        "space": {"kind": "list", "policies": ["crop", "crop+flip"]},
        "runner": {"heartbeat_interval": 1, "grace_period": 3},
        "baselines": [],  # the floors' trials are planned too; these tests count policies
    })


def test_plan_lists_trials_times_steps_and_creates_nothing(tmp_path: Path,
                                                           runs_dir: Path) -> None:
    config = tiny_config(tmp_path, runs_dir)
    plan = make_plan(config)
    assert [t.state for t in plan.trials] == ["to run"] * 4
    assert set(plan.timings) == {"simclr", "byol"}
    train = sum(r.split == "train" for r in build_signal_cache(tmp_path / "c2", n=48,
                                                               size=32).records)
    for timing in plan.timings.values():
        assert timing.seconds_per_step > 0 and timing.batch == 8
        assert timing.steps_per_trial == 3 * (train // 8)  # epochs x full batches
    remaining = plan.remaining_seconds()
    assert remaining is not None and remaining > 0
    text = plan.render()
    assert "4 trials: 4 to run" in text and "estimate: about" in text
    assert not config.study_dir.exists()  # planning starts nothing


def test_plan_reads_what_a_run_has_done_without_writing(tmp_path: Path, runs_dir: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    config = tiny_config(tmp_path, runs_dir)
    StudyRunner(config, make_fake_trial(tmp_path / "log.txt"), progress=None).run(n_trials=1)
    database = config.study_dir / "study.db"
    before = database.read_bytes()
    plan = make_plan(config, timing=False)
    states = [t.state for t in plan.trials]
    assert states.count("done") == 1 and states.count("to run") == 3
    done = next(t for t in plan.trials if t.state == "done")
    assert done.value is not None and f"auroc {done.value:.3f}" in plan.render()
    assert database.read_bytes() == before

    path = write_config(config, tmp_path / "tiny.yaml")
    assert run(["study", "plan", str(path), "--no-timing"]) == 0
    out = capsys.readouterr().out
    assert "4 trials: 1 done, 3 to run" in out
    assert "crop+flip" in out


def test_an_unprepared_source_is_counted_and_timed_on_random_images(tmp_path: Path,
                                                                     runs_dir: Path) -> None:
    from data.imagefiles import gradient, write_png

    for split, n in (("train", 20), ("val", 6)):
        for i in range(n):
            label = "abnormal" if i % 2 else "normal"
            write_png(tmp_path / "src" / split / label / f"{split}{i}.png", gradient(20, 20, i))
    config = StudyConfig.model_validate({
        "name": "src", "runs_dir": str(runs_dir),
        "data": {"source": str(tmp_path / "src"), "size": 32},
        "methods": ["simclr"], "pretrain": {"encoder": "resnet_tiny", "epochs": 2,
                                            "batch_size": 8, "workers": 0},
        "space": {"kind": "list", "policies": ["crop"]},
    })
    plan = make_plan(config)
    assert plan.timings["simclr"].steps_per_trial == 2 * (20 // 8)  # train images only
    assert "random images of 32 px" in plan.render()
    assert not config.study_dir.exists() and not (tmp_path / "src" / "cache").exists()


def test_plan_of_a_halving_study_counts_every_rung_and_the_epochs_it_saves(
        tmp_path: Path, runs_dir: Path) -> None:
    config = StudyConfig.model_validate({
        **tiny_config(tmp_path, runs_dir).model_dump(),
        "space": {"kind": "list", "policies": ["crop", "crop+flip", "flip", "identity"]},
        "halving": {"rungs": [1, 2, 4], "keep": 0.5, "min_keep": 1, "final_seeds": [0, 1],
                    "keep_base": False}})
    plan = make_plan(config)
    # Per method: 4 policies x 1 epoch, 2 x 2 epochs, 1 x 4 epochs x 2 final seeds.
    assert [t.point.epochs for t in plan.trials] == [1] * 8
    assert plan.left() == 2 * (4 + 2 + 2)
    assert plan.halving is not None
    assert plan.halving.epochs_with == 2 * (4 * 1 + 2 * 2 + 1 * 4 * 2)
    assert plan.halving.epochs_all_final == 2 * 4 * 4 * 2
    assert plan.halving.epochs_one_seed == 2 * 4 * 3
    per_epoch = [t.seconds_per_step * (t.steps_per_trial or 0) / t.epochs
                 for t in plan.timings.values()]
    assert plan.remaining_seconds() == pytest.approx(sum(per_epoch) * 16)  # epochs per method
    text = plan.render()
    assert "pretraining epochs: 32 with halving; 64 without it" in text
    assert "simclr: on rung 1/3" in text and "16 trials left" in text
