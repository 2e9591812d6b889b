"""Successive halving: the plan promotes the best policies of each rung, with planted values."""

from __future__ import annotations

import io
import signal
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from pydantic import ValidationError

from study.conftest import FIVE_OPS, MakeConfig
from study.fake_trial import make_fake_trial, write_config
from study.test_resume_and_workers import (
    complete_counts,
    finish,
    log_counts,
    start_worker,
    wait_for,
)
from xrayssl.config.study import HalvingSettings, StudyConfig
from xrayssl.study.grid import grid_points, halving_rungs
from xrayssl.study.halving import KeyState, kept, survivors, walk
from xrayssl.study.runner import Pruned, StudyRunner, TrialContext, TrialOutcome
from xrayssl.study.space import GridPoint, PolicyPair
from xrayssl.study.storage import default_storage_url

SIX = ["identity", "crop", "flip", "rotation", "crop+flip", "crop+rotation"]
HALVING = {"rungs": [1, 2, 4], "keep": 0.5, "min_keep": 2, "final_seeds": [0, 1],
           "keep_base": False}


def planted(values: Mapping[str, float], log: list[GridPoint],
            fail: Callable[[GridPoint], bool] = lambda p: False) -> Callable[..., TrialOutcome]:
    """A trial scoring each policy by a planted value (plus a small per-seed wobble)."""

    def trial(ctx: TrialContext) -> TrialOutcome:
        log.append(ctx.point)
        if fail(ctx.point):
            raise RuntimeError("planted failure")
        value = values[ctx.point.policy.view1] + 0.001 * ctx.point.seed
        return TrialOutcome(value=value, summary={"auroc": value})

    return trial


def halving_config(make_config: MakeConfig, **halving: object) -> StudyConfig:
    return make_config(methods=["simclr"], space={"kind": "list", "policies": SIX},
                       halving={**HALVING, **halving})


def ran(log: list[GridPoint], epochs: int) -> set[str]:
    return {p.policy.view1 for p in log if p.epochs == epochs}


def test_each_rung_promotes_the_planted_best_and_the_last_runs_the_final_seeds(
    make_config: MakeConfig,
) -> None:
    config = halving_config(make_config)
    values = dict(zip(SIX, [0.60, 0.70, 0.65, 0.90, 0.80, 0.50], strict=True))
    log: list[GridPoint] = []
    stream = io.StringIO()
    summary = StudyRunner(config, planted(values, log), progress=stream).run()
    assert ran(log, 1) == set(SIX)
    assert ran(log, 2) == {"rotation", "crop+flip", "crop"}  # ceil(0.5 * 6) = 3
    assert ran(log, 4) == {"rotation", "crop+flip"}  # max(min_keep 2, ceil(1.5))
    assert Counter(p.seed for p in log if p.epochs == 4) == {0: 2, 1: 2}
    assert {p.seed for p in log if p.epochs != 4} == {0}
    assert len(log) == 6 + 3 + 2 * 2 and len({p.key for p in log}) == len(log)
    assert summary.remaining == 0 and summary.complete == 13 and not summary.failed
    assert "rung 3/3 (4 epochs)" in stream.getvalue()
    # A rerun finds nothing to do.
    assert StudyRunner(config, planted(values, log), progress=None).run().ran_here == 0


def test_ties_go_to_the_earlier_policy_of_the_space(make_config: MakeConfig) -> None:
    config = halving_config(make_config, rungs=[1, 2], min_keep=1, keep=0.3)
    values = dict.fromkeys(SIX, 0.5) | {"flip": 0.8, "crop+rotation": 0.8}
    log: list[GridPoint] = []
    StudyRunner(config, planted(values, log), progress=None).run()
    assert ran(log, 2) == {"flip", "crop+rotation"}  # ceil(0.3 * 6) = 2, both tied
    config = halving_config(make_config, rungs=[1, 2], min_keep=1, keep=0.15)
    log = []
    StudyRunner(config.model_copy(update={"name": "tie"}), planted(values, log),
                progress=None).run()
    assert ran(log, 2) == {"flip"}  # one place: flip comes before crop+rotation


def test_a_policy_that_fails_for_good_ends_its_rung_and_is_not_promoted(
    make_config: MakeConfig,
) -> None:
    config = halving_config(make_config, rungs=[1, 2], keep=0.5)
    values = dict(zip(SIX, [0.60, 0.70, 0.65, 0.90, 0.80, 0.50], strict=True))
    log: list[GridPoint] = []
    summary = StudyRunner(config, planted(values, log, lambda p: p.policy.view1 == "rotation"),
                          progress=None).run()
    attempts = Counter(p.key for p in log if p.policy.view1 == "rotation")
    assert list(attempts.values()) == [config.runner.max_attempts]
    assert ran(log, 2) == {"crop+flip", "crop", "flip"}  # the next three in value
    assert len(summary.failed) == 1 and summary.remaining == 0

    # --retry-failed: the policy runs again, wins rung 0 and goes on.
    retry = StudyRunner(config, planted(values, log), progress=None, retry_failed=True).run()
    assert "rotation" in ran(log, 2) and not retry.failed and retry.remaining == 0


def test_the_base_policy_goes_on_as_the_reference_outside_the_count(
    make_config: MakeConfig,
) -> None:
    config = make_config(methods=["simclr"],
                         space={"kind": "ablation", "ops": FIVE_OPS, "base": "crop"},
                         halving={"rungs": [1, 2, 3], "keep": 0.34, "min_keep": 2,
                                  "final_seeds": [0]})
    log: list[GridPoint] = []
    values = {"crop": 0.1, **{f"crop+{op}": 0.5 + 0.01 * i for i, op in enumerate(FIVE_OPS)}}
    StudyRunner(config, planted(values, log), progress=None).run()
    assert ran(log, 2) == {"crop", "crop+random_erasing", "crop+chessboard"}  # 2 of 5 + base
    assert ran(log, 3) == {"crop", "crop+random_erasing", "crop+chessboard"}  # min_keep 2


def test_resume_in_the_middle_of_a_rung_walks_on_from_the_stored_trials(
    make_config: MakeConfig,
) -> None:
    config = halving_config(make_config)
    values = dict(zip(SIX, [0.60, 0.70, 0.65, 0.90, 0.80, 0.50], strict=True))
    first: list[GridPoint] = []
    stopped = StudyRunner(config, planted(values, first), progress=None).run(n_trials=4)
    assert len(first) == 4 and stopped.remaining == 13 - 4  # the total is known in advance
    rest: list[GridPoint] = []
    summary = StudyRunner(config, planted(values, rest), progress=None).run()
    assert not {p.key for p in first} & {p.key for p in rest}
    everything = first + rest
    assert ran(everything, 2) == {"rotation", "crop+flip", "crop"}
    assert ran(everything, 4) == {"rotation", "crop+flip"}
    assert summary.complete == 13 and summary.remaining == 0


def test_a_killed_worker_mid_rung_is_reaped_and_the_rungs_complete(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    config = make_config(methods=["simclr"],
                         space={"kind": "subsets", "ops": FIVE_OPS[:2], "base": "crop"},
                         halving={"rungs": [1, 2], "keep": 0.25, "min_keep": 1,
                                  "final_seeds": [0, 1], "keep_base": False})
    path = write_config(config, tmp_path / "study.yaml")
    storage = default_storage_url(config)
    log = tmp_path / "log"
    proc = start_worker(path, storage, log, sleep=30.0)
    wait_for(lambda: sum(log_counts(log, "start").values()) == 1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    killed = next(iter(log_counts(log, "start")))
    finish(start_worker(path, storage, log, sleep=0.0))
    # The fake trial scores by op count: crop+blur+flip is the best of the four.
    expected = {f"simclr|{p}|=|0|e1" for p in ["crop", "crop+gaussian_blur", "crop+flip",
                                                 "crop+gaussian_blur+flip"]}
    expected |= {f"simclr|crop+gaussian_blur+flip|=|{s}|e2" for s in (0, 1)}
    assert complete_counts(config, storage) == Counter(expected)
    assert log_counts(log, "start")[killed] == 2


def test_two_workers_walk_up_the_rungs_without_running_a_trial_twice(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    config = make_config(space={"kind": "subsets", "ops": FIVE_OPS[:3], "base": "crop"},
                         halving={"rungs": [1, 2, 3], "keep": 0.5, "min_keep": 2,
                                  "final_seeds": [0, 1], "keep_base": False})
    path = write_config(config, tmp_path / "study.yaml")
    storage = default_storage_url(config)
    log = tmp_path / "log"
    workers = [start_worker(path, storage, log, sleep=0.05) for _ in range(2)]
    for worker in workers:
        finish(worker)
    trials = StudyRunner(config, make_fake_trial(log), progress=None).trials()
    wanted = Counter(p.key for p in grid_points(config, trials))
    assert log_counts(log, "start") == wanted  # no trial ran twice, none was skipped
    assert complete_counts(config, storage) == wanted
    assert sum(wanted.values()) == 2 * (8 + 4 + 2 * 2)
    for method in halving_rungs(config, trials):
        final = method.rungs[-1]
        assert len(final.policies) == 2 and final.ended
        # The fake trial's score grows with the op count: the two largest subsets win.
        sizes = sorted(len(p.view1.split("+")) for p in final.policies)
        assert sizes == [3, 4]
    assert len({line.split()[2] for line in log.read_text().splitlines()}) == 2


def test_changing_keep_extends_the_study_and_reuses_its_trials(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    narrow = halving_config(make_config, keep=0.34, min_keep=1)
    StudyRunner(narrow, make_fake_trial(log), progress=None).run()
    wide = halving_config(make_config, keep=0.67, min_keep=1)
    assert wide.fingerprint() == narrow.fingerprint() == make_config().fingerprint()
    summary = StudyRunner(wide, make_fake_trial(log), progress=None).run()
    assert summary.remaining == 0
    assert max(log_counts(log, "start").values()) == 1  # nothing ran twice


def test_the_trial_pretrains_the_rungs_epochs(make_config: MakeConfig) -> None:
    from xrayssl.study.trial import pretrain_config

    config = halving_config(make_config)
    point = GridPoint("simclr", PolicyPair("crop"), 0, epochs=4)
    assert pretrain_config(config, point, progress=False).epochs == 4
    assert point.key == "simclr|crop|=|0|e4" and "_e4_" in point.slug
    plain = GridPoint("simclr", PolicyPair("crop"), 0)
    assert plain.key == "simclr|crop|=|0" and "_e" not in plain.slug.rsplit("_", 1)[0]
    assert GridPoint.from_attrs(dict(point.as_attrs())) == point
    assert "epochs" not in plain.as_attrs()


def test_walk_waits_for_every_seed_of_a_rung() -> None:
    halving = HalvingSettings(rungs=[1, 2], keep=0.5, min_keep=1, final_seeds=[0])
    policies = [PolicyPair(s) for s in ("a", "b", "c")]

    def state(point: GridPoint) -> KeyState:
        if point.policy.view1 == "c" and point.seed == 1:
            return KeyState(ended=False)  # still running
        return KeyState(ended=True, value={"a": 0.1, "b": 0.3, "c": 0.9}[point.policy.view1])

    rungs = walk(halving, "simclr", policies, [0, 1], None, state)
    assert not rungs.rungs[0].ended and not rungs.rungs[1].decided
    assert rungs.rungs[1].planned == 2 and rungs.current.index == 0
    assert {p.seed for p in rungs.points()} == {0, 1}


def test_kept_and_survivors() -> None:
    halving = HalvingSettings(rungs=[1, 2], keep=0.5, min_keep=2, final_seeds=[0])
    assert [kept(halving, n) for n in (1, 2, 3, 4, 5, 9)] == [1, 2, 2, 2, 3, 5]
    policies = [PolicyPair(s) for s in ("a", "b", "c", "d")]
    values: dict[PolicyPair, float | None] = {policies[0]: None, policies[1]: 0.2,
                                              policies[2]: 0.2, policies[3]: 0.1}
    assert survivors(halving, policies, values, None) == (policies[1], policies[2])
    one = HalvingSettings(rungs=[1, 2], keep=0.25, min_keep=1, final_seeds=[0])
    assert survivors(one, policies, values, policies[3]) == (policies[1], policies[3])


@pytest.mark.parametrize(("halving", "message"), [
    ({"rungs": [5]}, "at least 2"),
    ({"rungs": [5, 5, 10]}, "strictly increasing"),
    ({"rungs": [0, 5]}, "at least 1"),
    ({"rungs": [5, 10], "keep": 0}, "greater than 0"),
    ({"rungs": [5, 10], "keep": 1.5}, "less than or equal to 1"),
    ({"rungs": [5, 10], "min_keep": 0}, "greater than or equal to 1"),
    ({"rungs": [5, 10], "final_seeds": [0, 0]}, "repeats"),
    ({"rungs": [5, 10], "final_seeds": []}, "at least 1"),
    ({"rungs": [5, 10], "reps": 3}, "Extra inputs"),
])
def test_bad_halving_settings_are_refused(
    make_config: MakeConfig, halving: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        make_config(halving=halving)


def test_halving_refuses_a_search_space(make_config: MakeConfig) -> None:
    with pytest.raises(ValidationError, match="TPE"):
        make_config(space={"kind": "search", "ops": ["flip"], "n_trials": 3},
                    halving={"rungs": [1, 2]})


def test_the_planned_total_is_known_before_any_trial(make_config: MakeConfig) -> None:
    config = halving_config(make_config)
    runner = StudyRunner(config, make_fake_trial(Path("/dev/null")), progress=None)
    summary = runner.summary()
    assert summary.remaining == 6 + 3 + 2 * 2 and summary.rung == "rung 1/3 (1 epoch)"


def test_a_pruned_trial_ends_its_rung_and_is_not_promoted(make_config: MakeConfig) -> None:
    config = halving_config(make_config, rungs=[1, 2], keep=0.5)
    values = dict(zip(SIX, [0.60, 0.70, 0.65, 0.90, 0.80, 0.50], strict=True))
    log: list[GridPoint] = []
    scored = planted(values, log)

    def pruning(ctx: TrialContext) -> TrialOutcome:
        if ctx.point.policy.view1 == "rotation" and ctx.point.epochs == 1:
            log.append(ctx.point)
            raise Pruned("planted prune")
        return scored(ctx)

    summary = StudyRunner(config, pruning, progress=None).run()
    assert ran(log, 2) == {"crop+flip", "crop", "flip"}
    assert summary.pruned == 1 and summary.remaining == 0
