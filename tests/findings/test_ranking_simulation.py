"""Ranking under uncertainty, checked on simulated studies whose truth is known.

Each simulated policy, pretraining seed and label subset scores N images of P patients (two
images each) as ``d * y + u + e``: ``u`` the image's own difficulty, shared by every model
(so paired comparisons gain from it), ``e`` the model's noise, Var(u + e) = 1, and ``d`` the
separation of that model: the policy's ``mu``, plus N(0, tau^2) per seed, plus N(0, kappa^2)
per label subset. A model with separation ``d`` has population AUROC Phi(d / sqrt(2)), so a
policy's expected AUROC over seeds and subsets is Phi(mu / sqrt(2 + tau^2 + kappa^2)): the
true margin between two policies is known in closed form.

The rates printed here (``pytest -s``) are the measured figures the README quotes.
"""

from __future__ import annotations

import math

import numpy as np

from xrayssl.evaluate.uncertainty import paired_seed_difference, seed_interval
from xrayssl.findings.ranking import holm, rank_policies

PATIENTS = 120
SEEDS = 3
SUBSETS = 2
TAU = 0.25  # seed-to-seed spread of the separation
KAPPA = 0.2  # label-subset spread
RUNS = 100
N_BOOT = 200


def phi(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def true_auroc(mu: float) -> float:
    return phi(mu / math.sqrt(2 + TAU**2 + KAPPA**2))


def simulate(mus: list[float], rng: np.random.Generator) -> tuple[
        np.ndarray, np.ndarray, list[np.ndarray]]:
    """-> labels (N,), patient ids (N,), per policy predictions (R, S, N)."""
    y_patient = (rng.random(PATIENTS) < 0.4).astype(np.int64)
    y = np.repeat(y_patient, 2)
    clusters = np.repeat(np.arange(PATIENTS), 2).astype(str)
    shared = rng.normal(0, math.sqrt(0.5), len(y))  # u: the image's own difficulty
    policies = []
    for mu in mus:
        d = mu + TAU * rng.normal(size=(SEEDS, 1)) + KAPPA * rng.normal(size=(SEEDS, SUBSETS))
        noise = rng.normal(0, math.sqrt(0.5), (SEEDS, SUBSETS, len(y)))
        score = d[..., None] * y + shared + noise  # (R, S, N)
        policies.append(1 / (1 + np.exp(-score)))
    return y, clusters, policies


def test_a_planted_better_policy_is_found_and_its_margin_covered() -> None:
    mus = [1.0, 1.0, 1.0, 1.7]  # the last policy is better by a known margin
    margin = true_auroc(1.7) - true_auroc(1.0)
    rng = np.random.default_rng(0)
    found = covered = 0
    for run in range(RUNS):
        y, clusters, probs = simulate(mus, rng)
        ranking = rank_policies(y, clusters, {f"p{i}": p for i, p in enumerate(probs)},
                                n_boot=N_BOOT, seed=run)
        found += ranking.best.name == "p3"
        diff = paired_seed_difference(y, probs[0], probs[3], clusters, n_boot=N_BOOT, seed=run)
        covered += diff.lo <= margin <= diff.hi
    print(f"\nplanted margin {margin:.3f} AUROC: found {found}/{RUNS}, "
          f"95% CI covered it {covered}/{RUNS}")
    assert found >= 0.9 * RUNS
    assert covered >= 0.9 * RUNS


def test_with_all_policies_equal_the_top_set_holds_them_all() -> None:
    rng = np.random.default_rng(1)
    full = 0
    p_best = []
    for run in range(RUNS):
        y, clusters, probs = simulate([1.2] * 5, rng)
        ranking = rank_policies(y, clusters, {f"p{i}": p for i, p in enumerate(probs)},
                                n_boot=N_BOOT, seed=run)
        full += len(ranking.top_set) == 5
        p_best.append(ranking.best.p_best)
    print(f"\nfive equal policies: the top set held all five in {full}/{RUNS} runs; "
          f"the winner's P(best) was {np.median(p_best):.2f} (median)")
    assert full >= 0.9 * RUNS
    assert np.median(p_best) < 0.6  # no false confidence in a winner among equals


def test_the_seed_interval_covers_a_single_policy_value() -> None:
    rng = np.random.default_rng(2)
    truth = true_auroc(1.2)
    covered = 0
    for run in range(RUNS):
        y, clusters, probs = simulate([1.2], rng)
        interval = seed_interval(y, probs[0], clusters, n_boot=N_BOOT, seed=run)
        covered += interval.lo <= truth <= interval.hi
    print(f"\none policy: its 95% CI covered the true AUROC {truth:.3f} in {covered}/{RUNS}")
    # Below the nominal 95%: with 3 seeds the spread between seeds is known from 3 values,
    # and a bootstrap cannot supply the heavier tails of that estimate (differences between
    # policies, which the ranking uses, share the patients and cover better).
    assert covered >= 0.8 * RUNS


def test_the_ci_widens_with_seed_spread() -> None:
    # Same data, same patients: predictions that differ between seeds must give a wider CI
    # than the same predictions repeated (patient chance alone).
    rng = np.random.default_rng(3)
    y, clusters, probs = simulate([1.2], rng)
    spread = seed_interval(y, probs[0], clusters, n_boot=N_BOOT, seed=0)
    repeated = np.repeat(probs[0][:1, :1], SEEDS, axis=0)
    alone = seed_interval(y, repeated, clusters, n_boot=N_BOOT, seed=0)
    assert spread.hi - spread.lo > alone.hi - alone.lo


def test_top_set_and_probability_of_being_best_on_a_clear_case() -> None:
    rng = np.random.default_rng(4)
    y, clusters, probs = simulate([0.3, 1.0, 2.5], rng)
    ranking = rank_policies(y, clusters, {"weak": probs[0], "mid": probs[1],
                                          "strong": probs[2]}, n_boot=N_BOOT)
    assert [r.name for r in ranking.rows] == ["strong", "mid", "weak"]
    assert ranking.top_set == ["strong"]
    assert ranking.best.p_best > 0.95
    assert sum(r.p_best for r in ranking.rows) == 1.0


def test_holm_adjusts_in_order() -> None:
    assert holm([0.01, 0.04, 0.03]) == [0.03, 0.06, 0.06]
