"""Rank policies on val under uncertainty: the best, the top set, each one's chance of being best.

Every policy is scored on the same val images (its predictions (R, S, N): seeds, label
subsets, images; see :mod:`xrayssl.evaluate.uncertainty`). One set of patient draws is
shared by all policies; each policy's seeds and subsets are drawn on their own. From the
draws:

* the value of a policy: the mean metric over its seeds and subsets, with a 95% CI;
* the best: the highest value;
* the top set: the best and every policy whose gap to the best is not significant after
  Holm's correction over the comparisons. The best was picked as the maximum, so its lead
  over an equal policy is positive by construction; each gap is therefore tested against
  the gap chance alone opens between the maximum and that policy: in every draw, centred
  on the point values, ``max_k c_k - c_q`` (c: a draw minus its point value). The p-value
  of policy q is the share of draws whose chance gap reaches its observed gap;
* P(best): the share of draws in which the policy has the highest value.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from xrayssl.errors import XraySSLError
from xrayssl.evaluate.uncertainty import (
    Difference,
    difference_from_draws,
    metric_table,
    patient_draws,
    resample_sets,
)
from xrayssl.findings.significance import holm

ALPHA = 0.05


@dataclass
class Ranked:
    """One policy's place: value [CI], difference to the best, top-set membership, P(best)."""

    name: str
    value: float
    lo: float
    hi: float
    p_best: float
    in_top_set: bool
    vs_best: Difference | None = None  # None for the best itself; its p: plain paired test
    p_holm: float | None = None  # the selection-aware gap test, Holm-adjusted


@dataclass
class Ranking:
    metric: str
    n_images: int
    n_patients: int
    rows: list[Ranked] = field(default_factory=list)  # best first

    @property
    def best(self) -> Ranked:
        return self.rows[0]

    @property
    def top_set(self) -> list[str]:
        return [row.name for row in self.rows if row.in_top_set]


def rank_policies(
    y_true: np.ndarray,
    clusters: np.ndarray,
    policies: Mapping[str, np.ndarray],
    *,
    metric: str = "auroc",
    thresholds: Mapping[str, np.ndarray] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = ALPHA,
    level: float = 0.95,
) -> Ranking:
    """Rank ``policies`` (name -> predictions (R, S, N) on the same val images)."""
    if not policies:
        raise XraySSLError("nothing to rank: no policy has val predictions")
    y_true = np.asarray(y_true, dtype=np.int64)
    clusters = np.asarray(clusters)
    rng = np.random.default_rng(seed)
    weights = patient_draws(clusters, n_boot, rng)  # (B, N), shared: differences are paired
    ones = np.ones((1, len(y_true)))
    names = list(policies)
    cuts = thresholds or {}
    values, draws = {}, {}
    for name in names:
        values[name] = float(np.nanmean(metric_table(y_true, policies[name], ones, metric,
                                                     cuts.get(name))))
        draws[name] = resample_sets(metric_table(y_true, policies[name], weights, metric,
                                                 cuts.get(name)), rng)
    stacked = np.stack([draws[n] for n in names])  # (K, B)
    winners = np.nanargmax(np.where(np.isfinite(stacked), stacked, -np.inf), axis=0)
    p_best = {n: float(np.mean(winners == i)) for i, n in enumerate(names)}
    order = sorted(names, key=lambda n: -values[n] if np.isfinite(values[n]) else np.inf)
    best = order[0]
    tail = 100 * (1 - level) / 2
    rows = []
    differences = {n: difference_from_draws(values[best], values[n], draws[best], draws[n],
                                            level) for n in order[1:]}
    centred = stacked - np.asarray([values[n] for n in names])[:, None]  # (K, B)
    with warnings.catch_warnings():  # a draw with no AUROC for any policy stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        chance_max = np.nanmax(centred, axis=0)  # (B,)
    gaps = {}
    for i, name in enumerate(names):
        if name == best:
            continue
        observed = values[best] - values[name]
        chance = chance_max - centred[i]
        finite = chance[np.isfinite(chance)]
        gaps[name] = float(np.mean(finite >= observed)) if len(finite) else 1.0
    adjusted = dict(zip(order[1:], holm([gaps[n] for n in order[1:]]), strict=True)) \
        if len(order) > 1 else {}
    for name in order:
        finite = draws[name][np.isfinite(draws[name])]
        lo, hi = (np.percentile(finite, [tail, 100 - tail]) if len(finite)
                  else (np.nan, np.nan))
        in_top = name == best or adjusted[name] >= alpha
        rows.append(Ranked(name=name, value=values[name], lo=float(lo), hi=float(hi),
                           p_best=p_best[name], in_top_set=in_top,
                           vs_best=differences.get(name), p_holm=adjusted.get(name)))
    return Ranking(metric=metric, n_images=len(y_true), n_patients=len(np.unique(clusters)),
                   rows=rows)
