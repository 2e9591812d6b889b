"""A search study (``space.kind: search``): Optuna's TPE sampler proposes the next policy.

Trials are asked until ``space.n_trials`` exist; a sampled policy that already finished is
not re-run (its value is reported again so the sampler learns from it).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from xrayssl.augment.params import op_text
from xrayssl.config.study import StudyConfig
from xrayssl.study.claims import SharedStudy
from xrayssl.study.floor_trials import is_floor_trial
from xrayssl.study.grid import KEY, point_attrs
from xrayssl.study.space import GridPoint, PolicyPair, compose


def make_sampler(config: StudyConfig) -> optuna.samplers.BaseSampler:
    return optuna.samplers.TPESampler(seed=config.seeds[0], n_startup_trials=5)


def search_budget_left(config: StudyConfig, trials: Sequence[FrozenTrial]) -> int:
    assert config.space.n_trials is not None
    counted = [
        t for t in trials
        if (t.state in (TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED)
            or (t.state == TrialState.FAIL and "error" in t.user_attrs))
        and not is_floor_trial(t)  # the floors come on top of the policy budget
    ]
    return config.space.n_trials - len(counted)


def search_point(config: StudyConfig, trial: optuna.trial.Trial) -> GridPoint:
    """The policy TPE proposes: which ops are in, and their strengths."""
    space = config.space
    parts = [space.base]
    for op in space.ops:
        if not trial.suggest_categorical(f"use_{op}", [True, False]):
            continue
        # Three significant digits: finer strengths are not different experiments.
        values = [
            (name, float(f"{trial.suggest_float(f'{op}.{name}', low, high):.3g}"))
            for name, (low, high) in sorted(space.strengths.get(op, {}).items())
        ]
        parts.append(op_text(op, values))
    method = (
        trial.suggest_categorical("method", list(config.methods))
        if len(config.methods) > 1
        else config.methods[0]
    )
    return GridPoint(method=str(method), policy=PolicyPair(compose(*parts)), seed=config.seeds[0])


def ask_search_trial(
    shared: SharedStudy, trials: Sequence[FrozenTrial], worker: dict[str, Any]
) -> FrozenTrial | None:
    """A new TPE trial, or None when the budget is spent."""
    if search_budget_left(shared.config, trials) <= 0:
        return None
    with warnings.catch_warnings():
        # The worker beats the heart itself (a Heartbeat), which Optuna cannot see from ask().
        warnings.filterwarnings("ignore", message="Heartbeat of storage")
        with shared.claim_lock():
            trial = shared.study.ask()
            shared.storage.record_heartbeat(trial._trial_id)
    point = search_point(shared.config, trial)
    for name, value in point_attrs(point).items():
        trial.set_user_attr(name, value)
    trial.set_user_attr("worker", worker)
    return shared.storage.get_trial(trial._trial_id)


def reuse_finished(
    shared: SharedStudy,
    point: GridPoint,
    trial: optuna.trial.Trial,
    trials: Sequence[FrozenTrial],
) -> bool:
    """A sampled policy that already finished is answered from the store; True if it was."""
    for other in trials:
        if (other.state == TrialState.COMPLETE and other.user_attrs.get(KEY) == point.key
                and other.value is not None):
            trial.set_user_attr("reused_from", other.number)
            shared.study.tell(trial, other.value)
            return True
    return False
