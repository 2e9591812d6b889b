"""The grid of a study: its points, and which of them still need a live trial.

Every trial a study runs is one *key* (method | view 1 | view 2 | seed, and | epochs in a
halving study). ``wanted_trials`` is the one place that says which keys should have a live
trial; everything that enqueues, claims or counts what is left asks it or the grid it is
built from. A halving study's grid grows as its rungs end (``grid_points`` with the stored
trials, see :mod:`.halving`), so every worker recomputes it from the trials it reloads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from xrayssl.config.study import SpaceSettings, StudyConfig
from xrayssl.study.floor_trials import floor_points
from xrayssl.study.halving import NOT_STARTED, KeyState, MethodRungs, study_rungs
from xrayssl.study.space import (
    GridPoint,
    PolicyPair,
    ablation_space,
    explicit_space,
    grid,
    pairwise_space,
    subsets_space,
)

# A key with a trial in one of these states is not enqueued again.
LIVE = (TrialState.WAITING, TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED)
KEY = "key"


@dataclass(frozen=True)
class WantedTrial:
    """A point that should have a live trial, and the Optuna params to enqueue it with."""

    point: GridPoint
    params: dict[str, Any] = field(default_factory=dict)


def policy_pairs(config: StudyConfig) -> list[PolicyPair]:
    """The policies a grid study enumerates."""
    return space_policies(config.space)


def space_policies(space: SpaceSettings) -> list[PolicyPair]:
    """The policies of a grid space, in the space's order."""
    if space.kind == "list":
        return explicit_space(space.policies)
    if space.kind == "subsets":
        return subsets_space(space.ops, space.base)
    if space.kind == "ablation":
        return ablation_space(space.ops, space.base, space.direction)
    if space.kind == "pairwise":
        return pairwise_space(space.ops, space.base, space.mode)
    raise ValueError(f"space kind {space.kind!r} is not a grid")


def grid_points(
    config: StudyConfig,
    trials: Sequence[FrozenTrial] = (),
    failures_since: datetime = datetime.min,
) -> list[GridPoint]:
    """Every point of a grid study, then the floors' (raw pixels, random init, supervised);
    a search study has only its floors fixed in advance. A halving study's points are those
    of the rungs decided by ``trials`` so far (rung 0 alone before any trial)."""
    if config.space.kind == "search":
        return floor_points(config)
    if config.halving is not None:
        rungs = halving_rungs(config, trials, failures_since)
        return [point for method in rungs for point in method.points()] + floor_points(config)
    return grid(policy_pairs(config), config.methods, config.seeds) + floor_points(config)


def key_states(
    config: StudyConfig, trials: Sequence[FrozenTrial], failures_since: datetime
) -> dict[str, KeyState]:
    """key -> whether its trials have ended (complete, pruned, failed for good) and its value."""
    errors = error_failures(trials, failures_since)
    states: dict[str, KeyState] = {}
    for trial in sorted(trials, key=lambda t: t.number):
        key = trial.user_attrs.get(KEY)
        if key is None:
            continue
        if trial.state == TrialState.COMPLETE and trial.value is not None:
            if states.get(key, NOT_STARTED).value is None:
                states[key] = KeyState(ended=True, value=float(trial.value))
        elif trial.state == TrialState.PRUNED or (
            len(errors.get(key, [])) >= config.runner.max_attempts
        ):
            states.setdefault(key, KeyState(ended=True))
    return states


def halving_rungs(
    config: StudyConfig, trials: Sequence[FrozenTrial] = (),
    failures_since: datetime = datetime.min,
) -> list[MethodRungs]:
    """The rungs of every method as far as the stored trials decide them."""
    states = key_states(config, trials, failures_since)
    return study_rungs(config, policy_pairs(config),
                       lambda point: states.get(point.key, NOT_STARTED))


def error_failures(trials: Sequence[FrozenTrial], since: datetime) -> dict[str, list[str]]:
    """key -> the errors its trials raised since ``since`` (a crash or a kill is no error)."""
    errors: dict[str, list[str]] = {}
    for trial in trials:
        if trial.state == TrialState.FAIL and "error" in trial.user_attrs:
            start = trial.datetime_start or datetime.min
            if start >= since:
                errors.setdefault(trial.user_attrs[KEY], []).append(trial.user_attrs["error"])
    return errors


def wanted_trials(
    config: StudyConfig, points: Sequence[GridPoint], trials: Sequence[FrozenTrial]
) -> list[WantedTrial]:
    """Points that should have a live trial: the grid, or a search's interrupted trials."""
    if config.space.kind != "search":
        return [WantedTrial(point) for point in points]
    wanted = [WantedTrial(point) for point in points]  # the floors
    for trial in trials:
        if trial.state == TrialState.FAIL and KEY in trial.user_attrs and (
            "error" not in trial.user_attrs and "duplicate_of" not in trial.user_attrs
        ):
            point = GridPoint.from_attrs(dict(trial.user_attrs))
            wanted.append(WantedTrial(point, dict(trial.params)))
    return wanted


def point_attrs(point: GridPoint) -> dict[str, Any]:
    """The user attributes a trial of ``point`` carries, whoever created it."""
    return {KEY: point.key, "slug": point.slug, **point.as_attrs()}
