"""A policy's value over pretraining seeds, with a CI that carries every source of chance.

A policy is judged on predictions ``probs`` of shape (R, S, N): R pretraining seeds, S label
subsets per seed (the probes trained on different 10% subsets; S = 1 at 100% labels), N
images of one split. Its value is the mean of the metric over all R x S prediction sets.

The CI is a two-level bootstrap, one draw at a time:

1. patients: draw the split's patients with replacement (images weighted by how often their
   patient was drawn, as in :mod:`xrayssl.evaluate.metrics`); every prediction set of every
   policy sees the same draw, so differences between policies are paired;
2. seeds: draw R of the R pretraining seeds with replacement;
3. label subsets: within each drawn seed, draw S of its S subsets with replacement;

and the draw's value is the mean metric over the drawn (seed, subset) sets on the drawn
patients. Bootstrapping only R = 3 values understates their spread by a factor (R - 1) / R
in variance, so before resampling, each seed's deviation from the mean of the seeds is
widened by sqrt(R / (R - 1)) (and each subset's deviation from its seed's mean by
sqrt(S / (S - 1))): the adjusted-residual bootstrap, which leaves the point value unchanged.
With one seed (or one subset) that level carries no variation, and the CI says only what
the other levels know.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from xrayssl.errors import XraySSLError
from xrayssl.evaluate.metrics import (
    METRICS,
    bootstrap_weights,
    cluster_codes,
    weighted_auroc,
    weighted_metrics,
)


@dataclass(frozen=True)
class Interval:
    """A value with its percentile CI and the bootstrap draws it came from."""

    value: float
    lo: float
    hi: float
    draws: np.ndarray  # (B,)


@dataclass(frozen=True)
class Difference:
    """``b - a`` with its CI and the two-sided bootstrap p-value of "no difference"."""

    delta: float
    lo: float
    hi: float
    p_value: float
    draws: np.ndarray  # (B,)


def as_runs(probs: np.ndarray) -> np.ndarray:
    """(N,) -> (1, 1, N); (S, N) -> (1, S, N) (one seed); (R, S, N) unchanged."""
    probs = np.asarray(probs, dtype=np.float64)
    while probs.ndim < 3:
        probs = probs[None]
    if probs.ndim != 3:
        raise XraySSLError(f"predictions must be (seeds, subsets, images), got {probs.shape}")
    return probs


def metric_table(
    y_true: np.ndarray, probs: np.ndarray, weights: np.ndarray, metric: str,
    thresholds: np.ndarray | None = None,
) -> np.ndarray:
    """The metric of every prediction set under every patient draw: (R, S, B).

    probs (R, S, N); weights (B, N); thresholds (R, S) (default 0.5; thresholded metrics
    only: each probe's own threshold, chosen on val).
    """
    if metric not in METRICS:
        raise XraySSLError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    runs = as_runs(probs)
    cuts = np.full(runs.shape[:2], 0.5) if thresholds is None else np.asarray(thresholds)
    if cuts.shape != runs.shape[:2]:
        raise XraySSLError(f"thresholds {cuts.shape} do not match predictions {runs.shape[:2]}")
    table = np.empty((*runs.shape[:2], len(weights)))
    for r in range(runs.shape[0]):
        for s in range(runs.shape[1]):
            if metric == "auroc":  # the common case, without the thresholded metrics' cost
                table[r, s] = weighted_auroc(y_true, runs[r, s], weights)
            else:
                table[r, s] = weighted_metrics(y_true, runs[r, s], weights,
                                               float(cuts[r, s]))[metric]
    return table


def _widen(table: np.ndarray) -> np.ndarray:
    """Adjusted residuals (see module doc): seed and subset deviations widened, mean kept."""
    seeds, subsets = table.shape[:2]
    seed_mean = table.mean(axis=1, keepdims=True)  # (R, 1, B)
    grand = seed_mean.mean(axis=0, keepdims=True)  # (1, 1, B)
    seed_gain = np.sqrt(seeds / (seeds - 1)) if seeds > 1 else 1.0
    subset_gain = np.sqrt(subsets / (subsets - 1)) if subsets > 1 else 1.0
    widened_seed = grand + seed_gain * (seed_mean - grand)
    out: np.ndarray = widened_seed + subset_gain * (table - seed_mean)
    return out


def resample_sets(table: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per column b of ``table`` (R, S, B): seeds, then subsets within seeds -> (B,)."""
    seeds, subsets, n_boot = table.shape
    widened = _widen(table)
    seed_pick = rng.integers(0, seeds, size=(n_boot, seeds))  # (B, R)
    subset_pick = rng.integers(0, subsets, size=(n_boot, seeds, subsets))  # (B, R, S)
    columns = np.arange(n_boot)[:, None, None]
    picked = widened[seed_pick[:, :, None], subset_pick, columns]  # (B, R, S)
    # A draw of patients that holds one class only has no AUROC in any cell (NaN): it stays
    # NaN, and the intervals read the draws that have one.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out: np.ndarray = np.nanmean(picked.reshape(n_boot, -1), axis=1)
    return out


def _point(table_at_ones: np.ndarray) -> float:
    return float(np.nanmean(table_at_ones))


def _percentiles(draws: np.ndarray, level: float) -> tuple[float, float]:
    finite = draws[np.isfinite(draws)]
    if not len(finite):
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(finite, [tail, 100 - tail])
    return float(lo), float(hi)


def patient_draws(clusters: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(B, N) patient-bootstrap weights, all draws at once."""
    return np.concatenate(list(bootstrap_weights(cluster_codes(clusters), n_boot, rng)))


def seed_interval(
    y_true: np.ndarray, probs: np.ndarray, clusters: np.ndarray, *, metric: str = "auroc",
    n_boot: int = 1000, seed: int = 0, thresholds: np.ndarray | None = None,
    level: float = 0.95,
) -> Interval:
    """Mean over seeds (and subsets) of ``metric`` with its two-level bootstrap CI."""
    y_true = np.asarray(y_true, dtype=np.int64)
    rng = np.random.default_rng(seed)
    weights = patient_draws(np.asarray(clusters), n_boot, rng)
    value = _point(metric_table(y_true, probs, np.ones((1, len(y_true))), metric, thresholds))
    draws = resample_sets(metric_table(y_true, probs, weights, metric, thresholds), rng)
    lo, hi = _percentiles(draws, level)
    return Interval(value, lo, hi, draws)


def difference_from_draws(
    value_a: float, value_b: float, draws_a: np.ndarray, draws_b: np.ndarray, level: float
) -> Difference:
    """``b - a`` from paired draws (the same patient draws for both)."""
    deltas = draws_b - draws_a
    finite = deltas[np.isfinite(deltas)]
    lo, hi = _percentiles(finite, level)
    p_value = 1.0 if not len(finite) else min(
        1.0, 2 * min(float(np.mean(finite <= 0)), float(np.mean(finite >= 0))))
    return Difference(value_b - value_a, lo, hi, p_value, deltas)


def paired_seed_difference(
    y_true: np.ndarray, probs_a: np.ndarray, probs_b: np.ndarray, clusters: np.ndarray, *,
    metric: str = "auroc", n_boot: int = 1000, seed: int = 0,
    thresholds_a: np.ndarray | None = None, thresholds_b: np.ndarray | None = None,
    level: float = 0.95,
) -> Difference:
    """``b - a`` of two policies on the same images: patients drawn once for both, each
    policy's seeds and subsets drawn on their own (seed 0 of one policy is no kin of seed 0
    of the other)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    rng = np.random.default_rng(seed)
    weights = patient_draws(np.asarray(clusters), n_boot, rng)
    ones = np.ones((1, len(y_true)))
    value_a = _point(metric_table(y_true, probs_a, ones, metric, thresholds_a))
    value_b = _point(metric_table(y_true, probs_b, ones, metric, thresholds_b))
    draws_a = resample_sets(metric_table(y_true, probs_a, weights, metric, thresholds_a), rng)
    draws_b = resample_sets(metric_table(y_true, probs_b, weights, metric, thresholds_b), rng)
    return difference_from_draws(value_a, value_b, draws_a, draws_b, level)
