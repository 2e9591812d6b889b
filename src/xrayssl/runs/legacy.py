"""Read ``metrics.json`` files of format ``xrayssl-metrics-v1`` into today's ``RunMetrics``.

A v1 file kept one held-out split implicitly (``predictions.test_indices`` and the ``n_test``
counts), its scores under ``results[<fraction>]``, and no record of what kind of run made it:
that comes from the run's ``config.yaml`` (trials) or the ``model`` block (baselines, probes).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from xrayssl.errors import XraySSLError
from xrayssl.runs.metrics_file import (
    HELD_OUT,
    UPGRADES,
    DataInfo,
    FractionResult,
    GroupScores,
    HeldOutSplit,
    ProbeFit,
    RunIdentity,
    RunKind,
    RunMetrics,
    Scores,
    SeedSpread,
    SplitScores,
    TrainSplit,
    malformed,
)

LEGACY_FORMAT = "xrayssl-metrics-v1"
FIT_FIELDS = ("seed", "n_train", "n_train_positive", "n_train_patients", "seconds")


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _group(block: Any) -> GroupScores:
    block = _mapping(block)
    image, study = block.get("image"), block.get("study")
    return GroupScores(image=Scores.from_flat(image) if isinstance(image, dict) else None,
                       study=Scores.from_flat(study) if isinstance(study, dict) else None)


def _fit(run: dict[str, Any]) -> ProbeFit:
    return ProbeFit(**{k: run[k] for k in FIT_FIELDS if k in run},
                    fitted={k: v for k, v in run.items() if k not in FIT_FIELDS})


def _identity(model: dict[str, Any], config: dict[str, Any]) -> RunIdentity:
    """The run's name as the v1 readers took it: config.yaml first, then the model block."""
    baseline = bool(model.get("baseline"))
    kind: RunKind = "baseline" if baseline else (
        "trial" if config or model.get("trial") else "probe")
    meta = _mapping(model.get("meta"))
    method = (config.get("method") or model.get("method") or meta.get("method")
              or _mapping(meta.get("config")).get("method"))
    policy_b = config.get("policy_b", model.get("policy_b"))
    seed = config.get("seed", model.get("seed"))
    return RunIdentity(
        kind=kind,
        method=None if method is None else str(method),
        policy=None if config.get("policy", model.get("policy")) is None
        else str(config.get("policy", model.get("policy"))),
        policy_b=None if policy_b in (None, "", "=") else str(policy_b),
        seed=int(seed) if isinstance(seed, int | float | str) and str(seed).isdigit() else None,
        baseline=str(model.get("kind")) if baseline and model.get("kind") else None,
        key=None if config.get("key") is None else str(config["key"]),
        label=None if model.get("label") is None else str(model["label"]),
    )


def upgrade_v1(data: dict[str, Any], where: str,
               config: dict[str, Any] | None = None) -> RunMetrics:
    """A v1 ``metrics.json`` (as ``evaluate/run.py`` wrote it) as a ``RunMetrics``."""
    results = data.get("results")
    if not isinstance(results, dict):
        raise XraySSLError(f"{where} ({LEGACY_FORMAT}) has no 'results' mapping; it cannot be "
                           "read. Rebuild it with the command that wrote it")
    predictions = _mapping(data.get("predictions"))
    by_fraction = _mapping(predictions.get("by_fraction"))
    info = _mapping(data.get("data"))
    try:
        fractions = {}
        for key, block in results.items():
            block = _mapping(block)
            metrics = _mapping(block.get("metrics"))
            probs = by_fraction.get(key)
            scores = SplitScores(
                overall=_group(metrics.get("overall")),
                by_body_part={str(p): _group(b)
                              for p, b in _mapping(metrics.get("by_body_part")).items()},
                seed_spread={m: SeedSpread.model_validate(s)
                             for m, s in _mapping(block.get("seed_spread")).items()},
                predictions=probs if probs else None,
            )
            fractions[key] = FractionResult(
                fraction=float(block.get("fraction") or key),
                fits=[_fit(r) for r in block.get("runs") or [] if isinstance(r, dict)],
                scores={HELD_OUT: scores},
            )
        split = HeldOutSplit(
            how=str(info.get("split", "not recorded")),
            indices=predictions.get("test_indices") or None,
            labels=predictions.get("labels"),
            clusters=predictions.get("clusters"),
            n=info.get("n_test"), n_positive=info.get("n_test_positive"),
            n_patients=info.get("n_test_patients"),
            body_parts=list(info.get("body_parts") or []),
        )
        return RunMetrics(
            run=_identity(_mapping(data.get("model")), config or {}),
            model=_mapping(data.get("model")),
            data=DataInfo(cache=info.get("cache"), config_hash=info.get("config_hash"),
                          image_size=info.get("image_size"),
                          body_parts=list(info.get("body_parts") or [])),
            evaluation=_mapping(data.get("evaluation")),
            train=TrainSplit(n=info.get("n_train"), n_patients=info.get("n_train_patients")),
            splits={HELD_OUT: split},
            fractions=fractions,
            timing=_mapping(data.get("timing")),
        )
    except (ValidationError, TypeError, ValueError) as err:
        if isinstance(err, ValidationError):
            raise XraySSLError(malformed(f"{where} ({LEGACY_FORMAT})", err)) from None
        raise XraySSLError(f"{where} ({LEGACY_FORMAT}) is malformed ({err}); rebuild it with "
                           "the command that wrote it") from None


UPGRADES[LEGACY_FORMAT] = upgrade_v1
