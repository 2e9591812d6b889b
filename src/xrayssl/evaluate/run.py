"""Evaluate an encoder (or a baseline) on a prepared cache -> a ``RunMetrics`` (metrics.json).

The three splits are the cache's own (:mod:`xrayssl.data.splits`): the probe is fitted on
``train`` (its C chosen by grouped CV inside it) and scores ``val`` and ``test``, each in its
own ``scores`` block. For each label fraction, a stratified patient-grouped subset of the
training images trains the probe (several subsets/seeds for fractions < 1). Each probe's
decision threshold (kappa, sensitivity, specificity) is chosen on its val predictions and
applied unchanged to test. Every val and test prediction is kept so two models can later be
compared image by image (paired bootstrap): on val to select, on test to report.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from xrayssl.config.probe import ProbeConfig
from xrayssl.data.cache import PreparedCache
from xrayssl.errors import XraySSLError
from xrayssl.evaluate.features import (
    default_device,
    extract_features,
    resolve_readout,
    with_readout,
)
from xrayssl.evaluate.floors import (
    TRAINED_BASELINES,
    build_baseline_encoder,
    predict_logits,
    train_supervised,
)
from xrayssl.evaluate.metrics import (
    METRICS,
    aggregate_studies,
    choose_threshold,
    metrics_with_ci,
)
from xrayssl.evaluate.probe import LinearProbe, fit_probe
from xrayssl.evaluate.splits import (
    EvalSplit,
    label_subset,
    make_split,
    patient_ids,
    resampling_unit,
    study_ids,
)
from xrayssl.runs.metrics_file import (
    DataInfo,
    FractionResult,
    GroupScores,
    HeldOutSplit,
    ProbeFit,
    RunIdentity,
    RunMetrics,
    Scores,
    SeedSpread,
    SplitScores,
    TrainSplit,
    fraction_key,
)

# fit_predict(train_positions, seed) -> (logits of val then test (N_val + N_test,), what was
# fitted). Logits, not probabilities: a confident model's probabilities round to exact ties
# (0.0, 1.0) that would change AUROC, its logits do not.
FitPredict = Callable[[np.ndarray, int], tuple[np.ndarray, dict[str, Any]]]


def sigmoid(logits: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(logits, -500, 500)))
    return out


def _scores(
    cache: PreparedCache, test: np.ndarray, probs: np.ndarray, config: ProbeConfig,
    seed: int, thresholds: list[float],
) -> tuple[GroupScores, dict[str, GroupScores]]:
    """Image- and study-level scores, overall and per body part; probs (S, N) on ``test``
    (either scored split), one decision threshold per prediction set."""
    y = cache.labels[test]
    patients = patient_ids(cache, test)
    studies = study_ids(cache, test)
    parts = np.asarray([cache.records[int(i)].body_part for i in test])

    def ci(y_: np.ndarray, p_: np.ndarray, clusters: np.ndarray) -> Scores | None:
        if len(np.unique(y_)) < 2:
            return None  # AUROC undefined: a body part with one class in this split
        return Scores.from_flat(metrics_with_ci(
            y_, p_, clusters, n_boot=config.n_bootstrap, seed=seed,
            threshold=thresholds, level=config.ci_level))

    def group(mask: np.ndarray) -> GroupScores:
        out = GroupScores(image=ci(y[mask], probs[:, mask], patients[mask]))
        if len(np.unique(studies[mask])) < mask.sum():  # some study has several images
            sp, sy, sc, _ = aggregate_studies(probs[:, mask], y[mask], studies[mask],
                                              patients[mask])
            out.study = ci(sy, sp, sc)
        return out

    unique_parts = sorted(set(parts.tolist()))
    by_part = {p: group(parts == p) for p in unique_parts} if len(unique_parts) > 1 else {}
    return group(np.ones(len(test), dtype=bool)), by_part


def _seed_spread(cache: PreparedCache, test: np.ndarray, probs: np.ndarray,
                 thresholds: list[float]) -> dict[str, SeedSpread]:
    """Each metric of every label subset's probe on its own; probs (S, N), S > 1."""
    y = cache.labels[test]
    per_seed = [metrics_with_ci(y, p, patient_ids(cache, test), n_boot=0, threshold=t)
                for p, t in zip(probs, thresholds, strict=True)]
    return {
        m: SeedSpread(values=[r[m]["value"] for r in per_seed],
                      sd=_finite(np.nanstd([np.nan if r[m]["value"] is None else r[m]["value"]
                                            for r in per_seed], ddof=1)))
        for m in METRICS
    }


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _thresholds(config: ProbeConfig, y_val: np.ndarray, val_probs: np.ndarray) -> list[float]:
    """One threshold per prediction set: fixed by the config, or chosen on its val scores."""
    if config.threshold is not None:
        return [config.threshold] * len(val_probs)
    return [choose_threshold(y_val, p) for p in val_probs]


def _split_scores(cache: PreparedCache, indices: np.ndarray, probs: np.ndarray,
                  config: ProbeConfig, thresholds: list[float]) -> SplitScores:
    overall, by_part = _scores(cache, indices, probs, config, 0, thresholds)
    return SplitScores(
        overall=overall, by_body_part=by_part,
        seed_spread=_seed_spread(cache, indices, probs, thresholds) if len(probs) > 1 else {},
        predictions=probs.tolist(),
    )


def _held_out(cache: PreparedCache, indices: np.ndarray, how: str) -> HeldOutSplit:
    y = cache.labels[indices]
    parts = [cache.records[int(i)].body_part for i in indices]
    return HeldOutSplit(
        how=how, indices=indices.tolist(), labels=y.tolist(),
        clusters=patient_ids(cache, indices).tolist(), n=len(indices),
        n_positive=int(y.sum()), n_patients=len(set(patient_ids(cache, indices).tolist())),
        body_parts=sorted(set(parts)), image_parts=parts,
    )


def evaluate_predictor(
    cache: PreparedCache,
    fit_predict: FitPredict,
    *,
    run: RunIdentity,
    model: dict[str, Any],
    config: ProbeConfig,
    split: EvalSplit,
    progress: Callable[[str], None] | None = None,
) -> RunMetrics:
    """Run ``fit_predict`` for every label fraction and seed; collect scores and predictions.

    Each fraction gets a ``val`` block (everything that selects reads it) and a ``test``
    block (reported once, for what was selected and for the floors).
    """
    say = progress or (lambda _msg: None)
    fractions: dict[str, FractionResult] = {}
    n_val = len(split.val)
    y_val = cache.labels[split.val]
    n_fits = sum(config.seeds if fraction < 1 else 1 for fraction in config.fractions)
    n_fit = 0
    for fraction in config.fractions:
        seeds = range(config.seeds) if fraction < 1 else range(1)
        fits, logits = [], []
        for seed in seeds:
            started = time.perf_counter()
            subset = label_subset(cache, split.train, fraction, seed)
            n_fit += 1
            say(f"probe {n_fit}/{n_fits}: {fraction:g} of the labels, seed {seed}, "
                f"{len(subset)} training images")
            position = np.searchsorted(split.train, subset)  # split.train is sorted
            logit, fitted = fit_predict(position, seed)
            logits.append(np.asarray(logit, dtype=np.float64))
            fits.append(ProbeFit(
                seed=seed, n_train=len(subset),
                n_train_positive=int(cache.labels[subset].sum()),
                n_train_patients=len(set(patient_ids(cache, subset).tolist())),
                seconds=round(time.perf_counter() - started, 3), fitted=fitted,
            ))
            say(f"probe {n_fit}/{n_fits} done in {time.perf_counter() - started:.1f} s"
                + (f" (C = {fitted['C']:g})" if "C" in fitted else ""))
        probs = sigmoid(np.stack(logits))  # (S, N_val + N_test)
        val_probs, test_probs = probs[:, :n_val], probs[:, n_val:]
        thresholds = _thresholds(config, y_val, val_probs)
        for fit, threshold in zip(fits, thresholds, strict=True):
            fit.fitted["threshold"] = threshold
        fractions[fraction_key(fraction)] = FractionResult(fraction=fraction, fits=fits, scores={
            "val": _split_scores(cache, split.val, val_probs, config, thresholds),
            "test": _split_scores(cache, split.test, test_probs, config, thresholds),
        })
    unit = resampling_unit(cache, split.test)
    test_parts = sorted({cache.records[int(i)].body_part for i in split.test})
    return RunMetrics(
        run=run,
        model=model,
        data=DataInfo(cache=str(cache.root), config_hash=cache.config_hash,
                      image_size=cache.size, body_parts=test_parts),
        evaluation={
            **config.model_dump(mode="json"),
            "probe": f"StandardScaler + LogisticRegression (L2, {config.solver}), C by "
                     "StratifiedGroupKFold",
            "imbalance": f"class_weight={config.class_weight!r}",
            "ci": f"percentile bootstrap resampling {unit}s"
                  + (" (studies nest in patients)" if unit == "patient" else ""),
            "multi_seed": "value = mean over seeds; CI = bootstrap of that mean",
            "threshold_rule": ("chosen on val per probe (Youden's J), applied to test"
                               if config.threshold is None else f"fixed at {config.threshold}"),
            "splits": cache.splits,
        },
        train=TrainSplit(n=len(split.train),
                         n_patients=len(set(patient_ids(cache, split.train).tolist()))),
        splits={"val": _held_out(cache, split.val, split.how_val),
                "test": _held_out(cache, split.test, split.how_test)},
        fractions=fractions,
    )


def _probe_fit_predict(
    train_x: np.ndarray, train_y: np.ndarray, train_groups: np.ndarray, scored_x: np.ndarray,
    config: ProbeConfig, keep: dict[str, LinearProbe],
    progress: Callable[[str], None] | None = None,
) -> FitPredict:
    def fit_predict(position: np.ndarray, seed: int) -> tuple[np.ndarray, dict[str, Any]]:
        probe = fit_probe(
            train_x[position], train_y[position], train_groups[position], seed,
            cs=tuple(config.cs), n_splits=config.cv_folds, class_weight=config.class_weight,
            max_iter=config.max_iter, solver=config.solver, progress=progress,
        )
        if len(position) == len(train_x) and seed == 0:
            keep["full"] = probe
        return probe.decision_function(scored_x), {"C": probe.C, "selection": probe.selection}

    return fit_predict


def evaluate_encoder(
    encoder: nn.Module,
    cache: PreparedCache,
    *,
    fractions: Sequence[float] | None = None,
    body_parts: Sequence[str] | None = None,
    seeds: int | None = None,
    config: ProbeConfig | None = None,
    model: dict[str, Any] | None = None,
    run: RunIdentity | None = None,
    feature_cache_dir: Path | None = None,
    encoder_key: str | None = None,
    probe_out: Path | None = None,
    device: torch.device | str | None = None,
    progress: Callable[[str], None] | None = None,
) -> RunMetrics:
    """Linear-probe evaluation of a frozen encoder -> the content of metrics.json.

    ``run`` names what is evaluated (default: a lone ``xrayssl probe`` of an encoder).
    ``probe_out`` saves the probe fitted on 100% of the training labels (for Grad-CAM).
    """
    config = _configure(config, fractions, body_parts, seeds)
    split = make_split(cache, config.body_parts)
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    every = np.concatenate([split.train, split.val, split.test])
    config.readout = resolve_readout(config.readout, encoder, cache.size)  # as read, recorded
    reader = with_readout(encoder, config.readout)
    if encoder_key is not None and config.readout != "final":
        encoder_key = f"{encoder_key}|{config.readout}"  # other features, other cache entry
    features = extract_features(reader, cache, every, config.batch_size, device,
                                cache_dir=feature_cache_dir, encoder_key=encoder_key)
    feature_seconds = time.perf_counter() - started
    say(f"features {features.shape} in {feature_seconds:.1f} s")
    # scored_x: val then test, the order fit_predict's logits come in.
    train_x, scored_x = features[: len(split.train)], features[len(split.train):]
    keep: dict[str, LinearProbe] = {}
    fit_predict = _probe_fit_predict(
        train_x, cache.labels[split.train], patient_ids(cache, split.train), scored_x, config,
        keep, progress=say,
    )
    description = dict(model or {})
    description.setdefault("spec", getattr(encoder, "spec", {"class": type(encoder).__name__}))
    description.setdefault("readout", config.readout)
    description.setdefault("feature_dim", int(features.shape[1]))
    out = evaluate_predictor(cache, fit_predict, run=run or RunIdentity(kind="probe"),
                             model=description, config=config, split=split, progress=say)
    out.timing = {"feature_seconds": round(feature_seconds, 3),
                  "total_seconds": round(time.perf_counter() - started, 3)}
    if probe_out is not None and "full" in keep:
        keep["full"].readout = config.readout  # Grad-CAM reads the encoder the same way
        keep["full"].save(probe_out)
    return out


def evaluate_floor(
    kind: str,
    cache: PreparedCache,
    *,
    encoder_name: str = "resnet18",
    fractions: Sequence[float] | None = None,
    body_parts: Sequence[str] | None = None,
    seeds: int | None = None,
    config: ProbeConfig | None = None,
    weights: Path | None = None,
    device: torch.device | str | None = None,
    feature_cache_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> RunMetrics:
    """``raw`` / ``random`` / ``imagenet`` go through the linear probe; ``supervised`` trains
    the encoder end to end on the same label subsets and reports its own head's predictions;
    ``imagenet-linear`` trains only the head on a frozen ImageNet encoder."""
    config = _configure(config, fractions, body_parts, seeds)
    model: dict[str, Any] = {"kind": kind, "baseline": True}
    frozen = kind == "imagenet-linear"
    if frozen and weights is None:
        raise XraySSLError(
            "the imagenet-linear baseline needs a local weights file: --weights resnet50.pth"
        )
    run = RunIdentity(kind="baseline", baseline=kind)
    if kind not in TRAINED_BASELINES:
        encoder = build_baseline_encoder(kind, encoder_name=encoder_name, image_size=cache.size,
                                         weights=weights, raw_size=config.raw_size)
        if kind != "raw":
            model["encoder_name"] = encoder_name
        else:
            config.readout = "final"  # pixels have no stages to pool
        return evaluate_encoder(encoder, cache, config=config, model=model, run=run,
                                device=device,
                                feature_cache_dir=feature_cache_dir, progress=progress)
    split = make_split(cache, config.body_parts)
    dev = torch.device(device) if device is not None else default_device()
    train_y = cache.labels[split.train]
    train_groups = patient_ids(cache, split.train)
    model.update({"encoder_name": encoder_name, "supervised": config.supervised.model_dump(),
                  "initialised_from": str(weights) if weights else "random",
                  "encoder_frozen": frozen})
    started = time.perf_counter()

    def fit_predict(position: np.ndarray, seed: int) -> tuple[np.ndarray, dict[str, Any]]:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            from xrayssl.models.encoders import build_encoder

            encoder = build_encoder(encoder_name, image_size=cache.size, weights=weights)
        trained = train_supervised(encoder, cache, split.train[position], train_y[position],
                                   train_groups[position], config.supervised, seed, dev,
                                   freeze_encoder=frozen)
        scored = np.concatenate([split.val, split.test])
        logits = predict_logits(trained.model, cache, scored, config.batch_size, dev)
        return logits.astype(np.float64), {
            "best_epoch": trained.best_epoch, "selection": trained.selection,
            "history": trained.history,
        }

    out = evaluate_predictor(cache, fit_predict, run=run, model=model, config=config,
                             split=split, progress=progress)
    out.timing = {"total_seconds": round(time.perf_counter() - started, 3), "device": str(dev)}
    return out


def _configure(
    config: ProbeConfig | None, fractions: Sequence[float] | None,
    body_parts: Sequence[str] | None, seeds: int | None,
) -> ProbeConfig:
    config = (config or ProbeConfig()).model_copy(deep=True)
    if fractions is not None:
        config.fractions = list(fractions)
    if body_parts is not None:
        config.body_parts = list(body_parts)
    if seeds is not None:
        config.seeds = seeds
    return ProbeConfig.model_validate(config.model_dump())
