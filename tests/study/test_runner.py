from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from study.conftest import MakeConfig
from study.fake_trial import make_fake_trial
from xrayssl.errors import XraySSLError
from xrayssl.study.grid import KEY, grid_points
from xrayssl.study.runner import Pruned, StudyRunner, TrialContext, TrialOutcome


def completed_keys(runner: StudyRunner) -> Counter[str]:
    return Counter(t.user_attrs[KEY] for t in runner.trials([TrialState.COMPLETE]))


def test_grid_study_runs_every_point_once_and_a_rerun_adds_nothing(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    config = make_config()
    log = tmp_path / "log"
    stream = io.StringIO()
    runner = StudyRunner(config, make_fake_trial(log), progress=stream)
    summary = runner.run()
    points = grid_points(config)
    assert len(points) == 3 * 2  # crop, crop+blur, crop+flip x simclr, byol
    assert completed_keys(runner) == Counter(p.key for p in points)
    assert summary.remaining == 0 and summary.complete == 6 and not summary.failed
    assert summary.best is not None and summary.best[0].startswith("simclr crop+")
    assert "6/6 done" in stream.getvalue() or "6 complete" in stream.getvalue()
    assert (config.study_dir / "study.db").is_file()
    assert (config.study_dir / "study.yaml").is_file()

    again = StudyRunner(config, make_fake_trial(log), progress=None).run()
    assert again.ran_here == 0
    assert len(log.read_text().splitlines()) == 2 * 6  # one start and one done per point


def test_widening_the_space_reuses_finished_trials(make_config: MakeConfig, tmp_path: Path) -> None:
    log = tmp_path / "log"
    StudyRunner(make_config(), make_fake_trial(log), progress=None).run()
    wide = make_config(space={"kind": "subsets", "ops": ["gaussian_blur", "flip"], "base": "crop"})
    summary = StudyRunner(wide, make_fake_trial(log), progress=None).run()
    assert summary.complete == 8 and summary.ran_here == 2  # only crop+blur+flip is new


def test_changed_training_settings_refuse_to_mix(make_config: MakeConfig, tmp_path: Path) -> None:
    StudyRunner(make_config(), make_fake_trial(tmp_path / "log"), progress=None).run(n_trials=1)
    with pytest.raises(XraySSLError, match="different"):
        StudyRunner(make_config(pretrain={"epochs": 3}), make_fake_trial(tmp_path / "log"))


def test_enqueued_twins_never_both_run(make_config: MakeConfig, tmp_path: Path) -> None:
    config = make_config()
    runner = StudyRunner(config, make_fake_trial(tmp_path / "log"), progress=None)
    runner.enqueue_missing()
    # A second worker racing the first would enqueue the same keys again.
    for point in grid_points(config):
        runner.study.enqueue_trial({}, user_attrs={KEY: point.key, **point.as_attrs()})
    runner.run()
    assert completed_keys(runner) == Counter(p.key for p in grid_points(config))
    duplicates = [t for t in runner.trials() if "duplicate_of" in t.user_attrs]
    assert len(duplicates) == 6
    assert len((tmp_path / "log").read_text().splitlines()) == 12


def test_a_raising_trial_is_retried_then_reported(make_config: MakeConfig, tmp_path: Path) -> None:
    config = make_config(runner={"heartbeat_interval": 1, "grace_period": 3, "max_attempts": 2})
    calls: Counter[str] = Counter()
    fake = make_fake_trial(tmp_path / "log")

    def flaky(ctx: TrialContext) -> TrialOutcome:
        calls[ctx.point.key] += 1
        if "flip" in ctx.point.policy.view1:
            raise RuntimeError("boom")
        return fake(ctx)

    stream = io.StringIO()
    summary = StudyRunner(config, flaky, progress=stream).run()
    assert summary.complete == 4 and len(summary.failed) == 2 and summary.remaining == 0
    assert all(calls[key] == 2 for key in summary.failed)
    assert "RuntimeError: boom" in stream.getvalue()
    retry = StudyRunner(config, fake, progress=None, retry_failed=True).run()
    assert retry.complete == 6 and not retry.failed


def test_pruned_trials_count_as_done(make_config: MakeConfig, tmp_path: Path) -> None:
    config = make_config(runner={"heartbeat_interval": 1, "grace_period": 3, "prune": True,
                                 "prune_startup_trials": 1, "prune_warmup_epochs": 0})

    def monitored(ctx: TrialContext) -> TrialOutcome:
        quality = 0.9 if ctx.point.policy.view1 == "crop" else 0.1
        for epoch in range(3):
            ctx.report(epoch, quality)
        return TrialOutcome(value=quality)

    summary = StudyRunner(config, monitored, progress=None).run()
    assert summary.complete >= 1 and summary.pruned >= 1
    assert summary.complete + summary.pruned == 6 and summary.remaining == 0


def test_pruned_exception_is_what_report_raises() -> None:
    assert issubclass(Pruned, Exception)


def test_search_mode_spends_its_budget_and_reuses_repeats(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    config = make_config(
        methods=["simclr"],
        space={"kind": "search", "ops": ["flip", "rotation"], "base": "crop", "n_trials": 10,
               "strengths": {"rotation": {"degrees": [5, 45]}}},
    )
    runner = StudyRunner(config, make_fake_trial(tmp_path / "log"), progress=None)
    summary = runner.run()
    trials = runner.trials([TrialState.COMPLETE])
    assert len(trials) == 10 and summary.remaining == 0
    specs = {t.user_attrs["view1"] for t in trials}
    assert all(spec.startswith("crop") for spec in specs)
    assert any("rotation(degrees=" in spec for spec in specs)
    ran = [line for line in (tmp_path / "log").read_text().splitlines() if line.startswith("done")]
    assert len(ran) == len({t.user_attrs[KEY] for t in trials})  # repeats were not re-run


def test_optuna_sees_a_maximised_study(make_config: MakeConfig, tmp_path: Path) -> None:
    config = make_config()
    StudyRunner(config, make_fake_trial(tmp_path / "log"), progress=None).run()
    study = optuna.load_study(study_name="study",
                              storage=f"sqlite:///{config.study_dir / 'study.db'}")
    assert study.best_value == pytest.approx(0.5 + 0.05 * 2 + 0.01)
