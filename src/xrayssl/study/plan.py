"""What a study wants run: its grid of points, and which of them still need a live trial.

Every trial a study runs is one *key* (method | view 1 | view 2 | seed). ``wanted_trials`` is
the one place that says which keys should have a live trial; everything that enqueues,
claims or counts what is left asks it or the grid it is built from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from xrayssl.config.study import StudyConfig
from xrayssl.study.floors import floor_points
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
    space = config.space
    if space.kind == "list":
        return explicit_space(space.policies)
    if space.kind == "subsets":
        return subsets_space(space.ops, space.base)
    if space.kind == "ablation":
        return ablation_space(space.ops, space.base, space.direction)
    if space.kind == "pairwise":
        return pairwise_space(space.ops, space.base, space.mode)
    raise ValueError(f"space kind {space.kind!r} is not a grid")


def grid_points(config: StudyConfig) -> list[GridPoint]:
    """Every point of a grid study, then the floors' (raw pixels, random init, supervised);
    a search study has only its floors fixed in advance."""
    if config.space.kind == "search":
        return floor_points(config)
    return grid(policy_pairs(config), config.methods, config.seeds) + floor_points(config)


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
