"""The floors as study trials: raw pixels, a random-init encoder, supervised training.

Whether self-supervised pretraining helped at all is decided against these, so every study
runs them by default (``baselines: [raw, random, supervised]``), on the same cache, splits
and label fractions as its policies, with the study's encoder:

- ``raw``: downsampled pixels -> the linear probe;
- ``random``: the study's encoder, randomly initialised and frozen -> the linear probe;
- ``supervised``: the study's encoder trained end to end on the labels with the study's base
  policy (crop-only in an ablation) as its augmentation.

A floor is a grid point like any other (method ``floor:<kind>``, one seed): claimed, resumed
and run exactly once by the study runner, its folder marked ``baseline`` in ``config.yaml``.
"""

from __future__ import annotations

from typing import Any

from optuna.trial import FrozenTrial

from xrayssl.config.probe import ProbeConfig
from xrayssl.config.study import StudyConfig
from xrayssl.study.space import IDENTITY, GridPoint, PolicyPair, compose

FLOOR_PREFIX = "floor:"


def floor_points(config: StudyConfig) -> list[GridPoint]:
    """One grid point per floor of the study (seed: the study's first)."""
    points = []
    for kind in config.baselines:
        policy = compose(config.space.base) if kind == "supervised" else IDENTITY
        points.append(GridPoint(method=f"{FLOOR_PREFIX}{kind}", policy=PolicyPair(policy),
                                seed=config.seeds[0]))
    return points


def floor_kind(point: GridPoint) -> str | None:
    """``raw`` / ``random`` / ``supervised`` for a floor's point, None for a policy's."""
    if point.method.startswith(FLOOR_PREFIX):
        return point.method[len(FLOOR_PREFIX):]
    return None


def is_floor_trial(trial: FrozenTrial) -> bool:
    """Whether a stored Optuna trial is a floor's (by its ``method`` attribute)."""
    return str(trial.user_attrs.get("method", "")).startswith(FLOOR_PREFIX)


def floor_probe_config(probe: ProbeConfig, point: GridPoint) -> ProbeConfig:
    """The probe settings of a floor: the study's, with supervised training augmented by the
    study's base policy."""
    if floor_kind(point) != "supervised":
        return probe
    settings = probe.model_copy(deep=True)
    settings.supervised.policy = point.policy.view1
    return ProbeConfig.model_validate(settings.model_dump())


def floor_encoder(config: StudyConfig) -> str:
    """The encoder architecture the floors share with the study's pretraining."""
    encoder: Any = config.pretrain.get("encoder", "resnet18")
    return str(encoder)
