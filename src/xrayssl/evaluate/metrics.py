"""Binary classification metrics with cluster-bootstrap confidence intervals.

Every metric is computed from per-image *weights*: the point estimate uses weight 1 for every
image, a bootstrap draw uses "how many times was this image's patient drawn". Resampling whole
patients (clusters) instead of images keeps the CI honest when one patient contributes several
correlated images; writing it as weights lets all draws be computed at once as (B, N) arrays.

Study-level results follow the MURA paper: a study's probability is the mean of its images'
probabilities, and the study (not the image) is the unit being classified.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from xrayssl.errors import XraySSLError

METRICS = ("auroc", "accuracy", "kappa", "sensitivity", "specificity", "precision", "f1")


def _check_binary(y_true: np.ndarray, prob: np.ndarray) -> None:
    if y_true.ndim != 1 or prob.shape[-1] != y_true.shape[0]:
        raise XraySSLError(
            f"labels {y_true.shape} and probabilities {prob.shape} do not line up"
        )
    values = set(np.unique(y_true).tolist())
    if not values <= {0, 1}:
        raise XraySSLError(f"metrics need labels 0/1, got values {sorted(values)}")


def weighted_auroc(y_true: np.ndarray, prob: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUROC (Mann-Whitney, ties count one half) for each row of ``weights``.

    y_true: (N,) 0/1, prob: (N,), weights: (B, N) -> (B,); NaN where a row lacks a class.
    """
    order = np.argsort(prob, kind="mergesort")
    sorted_prob = prob[order]
    # Images with equal scores form one tie group; groups are contiguous after sorting.
    starts = np.flatnonzero(np.r_[True, sorted_prob[1:] != sorted_prob[:-1]])
    w = weights[:, order]  # (B, N)
    pos = y_true[order] == 1
    pos_w = np.add.reduceat(np.where(pos, w, 0.0), starts, axis=1)  # (B, G)
    neg_w = np.add.reduceat(np.where(pos, 0.0, w), starts, axis=1)  # (B, G)
    neg_below = np.cumsum(neg_w, axis=1) - neg_w  # negatives scored strictly lower
    wins = (pos_w * (neg_below + 0.5 * neg_w)).sum(axis=1)  # (B,)
    total = pos_w.sum(axis=1) * neg_w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, wins / np.where(total > 0, total, 1.0), np.nan)


def weighted_metrics(
    y_true: np.ndarray, prob: np.ndarray, weights: np.ndarray, threshold: float = 0.5
) -> dict[str, np.ndarray]:
    """All of METRICS for each row of ``weights`` (B, N) -> {name: (B,)}.

    A ratio whose denominator is zero (e.g. sensitivity without positives) is NaN.
    """
    positive = y_true == 1
    predicted = prob >= threshold
    tp = weights[:, positive & predicted].sum(axis=1)
    fn = weights[:, positive & ~predicted].sum(axis=1)
    fp = weights[:, ~positive & predicted].sum(axis=1)
    tn = weights[:, ~positive & ~predicted].sum(axis=1)
    total = tp + fn + fp + tn
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = (tp + tn) / total
        # Cohen's kappa: observed agreement against agreement expected from the marginals.
        expected = ((tp + fp) * (tp + fn) + (tn + fn) * (tn + fp)) / total**2
        kappa = np.where(expected < 1, (accuracy - expected) / (1 - expected), np.nan)
        return {
            "auroc": weighted_auroc(y_true, prob, weights),
            "accuracy": accuracy,
            "kappa": kappa,
            "sensitivity": tp / (tp + fn),
            "specificity": tn / (tn + fp),
            "precision": tp / (tp + fp),  # PPV; NaN when nothing is called positive
            "f1": 2 * tp / (2 * tp + fp + fn),
        }


def binary_metrics(
    y_true: np.ndarray, prob: np.ndarray, threshold: float = 0.5
) -> dict[str, float]:
    """Point estimates of METRICS; ``prob`` is P(abnormal) and ``threshold`` makes the call."""
    y_true = np.asarray(y_true, dtype=np.int64)
    prob = np.asarray(prob, dtype=np.float64)
    _check_binary(y_true, prob)
    values = weighted_metrics(y_true, prob, np.ones((1, len(y_true))), threshold)
    return {name: float(v[0]) for name, v in values.items()}


def cluster_codes(clusters: Sequence[str] | np.ndarray) -> np.ndarray:
    """Cluster names (patients) -> integer codes 0..C-1, one per image."""
    _, codes = np.unique(np.asarray(clusters, dtype=str), return_inverse=True)
    return codes.astype(np.int64)


def bootstrap_weights(
    codes: np.ndarray, n_boot: int, rng: np.random.Generator, chunk: int = 250
) -> Iterator[np.ndarray]:
    """Yield (b, N) weights: each draw picks C clusters with replacement; an image's weight is
    how many times its cluster was picked."""
    n_clusters = int(codes.max()) + 1
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        picks = rng.integers(0, n_clusters, size=(b, n_clusters))  # (b, C)
        flat = (picks + np.arange(b)[:, None] * n_clusters).ravel()
        counts = np.bincount(flat, minlength=b * n_clusters).reshape(b, n_clusters)
        yield counts[:, codes].astype(np.float64)  # (b, N)
        done += b


def _as_prediction_sets(prob: np.ndarray) -> np.ndarray:
    prob = np.asarray(prob, dtype=np.float64)
    return prob[None, :] if prob.ndim == 1 else prob  # (S, N)


Threshold = float | Sequence[float]


def _per_set(threshold: Threshold, n_sets: int) -> list[float]:
    """One decision threshold per prediction set (a scalar is shared by all)."""
    if isinstance(threshold, (int, float)):
        return [float(threshold)] * n_sets
    values = [float(t) for t in threshold]
    if len(values) != n_sets:
        raise XraySSLError(f"{len(values)} thresholds for {n_sets} prediction sets")
    return values


def choose_threshold(y_true: np.ndarray, prob: np.ndarray) -> float:
    """The decision threshold that maximises Youden's J (sensitivity + specificity - 1).

    Chosen on val and then applied unchanged to test, so kappa, sensitivity and specificity
    on test are honest: a fixed 0.5 is arbitrary for a probe whose scores are not calibrated
    to the test prevalence, and a threshold tuned on test would be selection on test.
    Ties go to the threshold nearest the middle of the tied range (midpoints between scores).
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    prob = np.asarray(prob, dtype=np.float64)
    _check_binary(y_true, prob)
    n_pos, n_neg = int(y_true.sum()), int((1 - y_true).sum())
    if n_pos == 0 or n_neg == 0:
        return 0.5
    scores = np.unique(prob)  # sorted
    # Candidate thresholds between consecutive distinct scores, plus both ends.
    candidates = np.r_[scores[0] - 1e-12, (scores[1:] + scores[:-1]) / 2, scores[-1] + 1e-12]
    called = prob[None, :] >= candidates[:, None]  # (T, N)
    sensitivity = (called & (y_true == 1)).sum(1) / n_pos
    specificity = (~called & (y_true == 0)).sum(1) / n_neg
    j = sensitivity + specificity
    best = np.flatnonzero(j >= j.max() - 1e-12)
    return float(candidates[best[len(best) // 2]])


def metrics_with_ci(
    y_true: np.ndarray,
    prob: np.ndarray,
    clusters: Sequence[str] | np.ndarray,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    threshold: Threshold = 0.5,
    level: float = 0.95,
) -> dict[str, Any]:
    """METRICS with percentile cluster-bootstrap CIs.

    ``prob`` is (N,) or (S, N): S prediction sets on the same images (e.g. probes trained on
    different label subsets). Then each value is the mean over the S sets and its CI is that
    of the mean, since every draw reweights all S sets identically. ``threshold``: one for
    all sets or one per set (each chosen on val for its own probe).
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    sets = _as_prediction_sets(prob)
    _check_binary(y_true, sets)
    codes = cluster_codes(clusters)
    if len(codes) != len(y_true):
        raise XraySSLError(f"{len(codes)} cluster ids for {len(y_true)} images")

    thresholds = _per_set(threshold, len(sets))

    def mean_over_sets(weights: np.ndarray) -> dict[str, np.ndarray]:
        per_set = [weighted_metrics(y_true, p, weights, t)
                   for p, t in zip(sets, thresholds, strict=True)]
        return {m: np.mean([s[m] for s in per_set], axis=0) for m in METRICS}

    point = mean_over_sets(np.ones((1, len(y_true))))
    draws: dict[str, list[np.ndarray]] = {m: [] for m in METRICS}
    rng = np.random.default_rng(seed)
    if len(y_true) and n_boot > 0:
        for weights in bootstrap_weights(codes, n_boot, rng):
            for m, v in mean_over_sets(weights).items():
                draws[m].append(v)
    tail = 100 * (1 - level) / 2
    out: dict[str, Any] = {
        "n": len(y_true),
        "n_positive": int(y_true.sum()),
        "n_clusters": int(codes.max()) + 1 if len(codes) else 0,
        "n_prediction_sets": len(sets),
        "threshold": thresholds[0] if len(set(thresholds)) == 1 else thresholds,
        "ci_level": level,
        "n_bootstrap": n_boot,
    }
    for m in METRICS:
        samples = np.concatenate(draws[m]) if draws[m] else np.array([np.nan])
        finite = samples[np.isfinite(samples)]
        lo, hi = (np.percentile(finite, [tail, 100 - tail]) if len(finite) else (np.nan, np.nan))
        out[m] = {"value": _num(point[m][0]), "lo": _num(lo), "hi": _num(hi)}
    return out


def _num(value: Any) -> float | None:
    """JSON-friendly float: NaN becomes None."""
    value = float(value)
    return None if np.isnan(value) else value


def aggregate_studies(
    prob: np.ndarray,
    y_true: np.ndarray,
    study_ids: Sequence[str] | np.ndarray,
    clusters: Sequence[str] | np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Image predictions -> study predictions (mean probability of the study's images).

    prob: (N,) or (S, N). Returns (study_prob (S?, M), study_label (M,), study_cluster (M,),
    study_id (M,)). Images of one study must share a label and a patient.
    """
    sets = _as_prediction_sets(prob)
    studies, codes = np.unique(np.asarray(study_ids, dtype=str), return_inverse=True)
    y_true = np.asarray(y_true, dtype=np.int64)
    clusters = np.asarray(clusters, dtype=str)
    counts = np.bincount(codes, minlength=len(studies)).astype(np.float64)
    sums = np.stack([np.bincount(codes, weights=p, minlength=len(studies)) for p in sets])
    study_prob = sums / counts  # (S, M)
    _, first = np.unique(codes, return_index=True)  # each study's first image
    study_label = y_true[first]
    study_cluster = clusters[first]
    mixed = study_label[codes] != y_true
    if mixed.any():
        bad = studies[codes[np.flatnonzero(mixed)[0]]]
        raise XraySSLError(
            f"study {bad!r} has images with different labels; study-level metrics need one "
            "label per study (check the study ids in the cache)"
        )
    if (study_cluster[codes] != clusters).any():
        bad = studies[codes[np.flatnonzero(study_cluster[codes] != clusters)[0]]]
        raise XraySSLError(f"study {bad!r} has images from different patients")
    out_prob = study_prob[0] if np.ndim(prob) == 1 else study_prob
    return out_prob, study_label, study_cluster, studies


def paired_bootstrap(
    y_true: np.ndarray,
    prob_a: np.ndarray,
    prob_b: np.ndarray,
    clusters: Sequence[str] | np.ndarray,
    *,
    metric: str = "auroc",
    n_boot: int = 2000,
    seed: int = 0,
    threshold: Threshold = 0.5,
    threshold_b: Threshold | None = None,
    level: float = 0.95,
) -> dict[str, Any]:
    """Compare two models on the same images: difference ``b - a`` with a cluster-bootstrap CI.

    Both models see the same resampled patients in every draw, so the shared difficulty of
    the test set cancels. ``p_value`` is the two-sided bootstrap p-value of "no difference".
    prob_a / prob_b: (N,) or (S, N) (averaged over S like metrics_with_ci); ``threshold``
    applies to a (and to b unless ``threshold_b`` is given), one per set or one for all.
    """
    if metric not in METRICS:
        raise XraySSLError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    y_true = np.asarray(y_true, dtype=np.int64)
    sets_a, sets_b = _as_prediction_sets(prob_a), _as_prediction_sets(prob_b)
    _check_binary(y_true, sets_a)
    _check_binary(y_true, sets_b)
    codes = cluster_codes(clusters)

    cut_a = _per_set(threshold, len(sets_a))
    cut_b = _per_set(threshold if threshold_b is None else threshold_b, len(sets_b))

    def value(sets: np.ndarray, cuts: list[float], weights: np.ndarray) -> np.ndarray:
        per_set = [weighted_metrics(y_true, p, weights, t)[metric]
                   for p, t in zip(sets, cuts, strict=True)]
        return np.asarray(np.mean(per_set, axis=0))

    ones = np.ones((1, len(y_true)))
    a, b = float(value(sets_a, cut_a, ones)[0]), float(value(sets_b, cut_b, ones)[0])
    rng = np.random.default_rng(seed)
    deltas = np.concatenate([
        value(sets_b, cut_b, w) - value(sets_a, cut_a, w)
        for w in bootstrap_weights(codes, n_boot, rng)
    ])
    deltas = deltas[np.isfinite(deltas)]
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(deltas, [tail, 100 - tail])
    p_value = min(1.0, 2 * min(float(np.mean(deltas <= 0)), float(np.mean(deltas >= 0))))
    return {
        "metric": metric,
        "a": a,
        "b": b,
        "delta": b - a,
        "lo": float(lo),
        "hi": float(hi),
        "p_value": p_value,
        "n_bootstrap": len(deltas),
        "ci_level": level,
    }


def _delong_components(y_true: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's structural components: V10 (one per positive), V01 (one per negative)."""
    from scipy.stats import rankdata

    pos, neg = score[y_true == 1], score[y_true == 0]
    m, n = len(pos), len(neg)
    combined = rankdata(np.concatenate([pos, neg]))  # midranks handle ties
    v10 = (combined[:m] - rankdata(pos)) / n  # share of negatives each positive beats
    v01 = 1.0 - (combined[m:] - rankdata(neg)) / m  # share of positives above each negative
    return v10, v01


def delong_test(y_true: np.ndarray, prob_a: np.ndarray, prob_b: np.ndarray) -> dict[str, Any]:
    """DeLong's test of AUROC(b) - AUROC(a) on the same images (DeLong et al. 1988).

    It treats images as independent; with several images per patient prefer
    :func:`paired_bootstrap`, which resamples patients.
    """
    from scipy.stats import norm

    y_true = np.asarray(y_true, dtype=np.int64)
    a, b = np.asarray(prob_a, dtype=np.float64), np.asarray(prob_b, dtype=np.float64)
    _check_binary(y_true, a)
    _check_binary(y_true, b)
    m, n = int(y_true.sum()), int((y_true == 0).sum())
    if m < 2 or n < 2:
        raise XraySSLError("DeLong's test needs at least two images of each class")
    v10_a, v01_a = _delong_components(y_true, a)
    v10_b, v01_b = _delong_components(y_true, b)
    s10 = np.cov(np.stack([v10_a, v10_b]))  # (2, 2)
    s01 = np.cov(np.stack([v01_a, v01_b]))
    contrast = np.array([-1.0, 1.0])
    variance = float(contrast @ (s10 / m + s01 / n) @ contrast)
    auc_a, auc_b = float(v10_a.mean()), float(v10_b.mean())
    delta = auc_b - auc_a
    if variance <= 0:
        return {"a": auc_a, "b": auc_b, "delta": delta, "se": 0.0, "z": 0.0,
                "p_value": 1.0 if delta == 0 else 0.0}
    se = variance**0.5
    z = delta / se
    return {"a": auc_a, "b": auc_b, "delta": delta, "se": se, "z": z,
            "p_value": float(2 * norm.sf(abs(z)))}
