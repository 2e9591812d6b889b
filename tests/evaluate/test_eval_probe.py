from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from xrayssl.errors import XraySSLError
from xrayssl.evaluate.probe import LinearProbe, fit_probe, grouped_folds


def _patients(n_patients: int, per_patient: int, dim: int, signal: float, seed: int):
    """Features with a patient effect and, when signal > 0, a label direction."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n_patients)
    effect = rng.normal(0, 1, (n_patients, dim))
    codes = np.repeat(np.arange(n_patients), per_patient)
    x = effect[codes] + rng.normal(0, 1, (len(codes), dim))
    x[:, :3] += signal * label[codes, None]
    x = x * rng.uniform(0.5, 5, dim) + 10  # unstandardised columns
    return x, label[codes], np.array([f"p{c}" for c in codes])


def test_grouped_cv_never_splits_a_patient() -> None:
    _, y, groups = _patients(40, 3, 4, 1.0, seed=0)
    folds = grouped_folds(y, groups, n_splits=5, seed=0)
    assert len(folds) == 5
    held_out = np.concatenate([held for _, held in folds])
    assert sorted(held_out.tolist()) == list(range(len(y)))  # each image held out once
    for train, held in folds:
        assert not set(groups[train]) & set(groups[held])
        assert set(y[held]) == {0, 1}


def test_grouped_cv_uses_fewer_folds_when_patients_are_few() -> None:
    y = np.array([0, 0, 1, 1, 1, 0, 1])
    groups = np.array(["a", "a", "b", "c", "c", "d", "e"])
    folds = grouped_folds(y, groups, n_splits=5, seed=0)
    assert len(folds) == 2  # two patients with negatives
    one_negative_patient = np.array(["a", "a", "b", "b", "c", "a", "d"])
    assert grouped_folds(y, one_negative_patient, 5, 0) == []


def test_probe_with_signal_beats_chance_and_shuffled_labels_do_not() -> None:
    x, y, groups = _patients(120, 2, 32, 1.5, seed=1)
    x_test, y_test, _ = _patients(100, 2, 32, 1.5, seed=2)
    probe = fit_probe(x, y, groups, seed=0)
    assert roc_auc_score(y_test, probe.predict_proba(x_test)) > 0.8
    assert probe.selection["method"] == "StratifiedGroupKFold"
    real = roc_auc_score(y_test, probe.predict_proba(x_test))
    # A probe fitted to shuffled labels points in a random direction: on test data with a
    # real signal a single such direction can land anywhere, but on average it is at chance.
    rng = np.random.default_rng(0)
    shuffled = [
        roc_auc_score(y_test, fit_probe(x, rng.permutation(y), groups, s, cs=(0.01, 1.0),
                                        n_splits=3).predict_proba(x_test))
        for s in range(6)
    ]
    assert abs(np.mean(shuffled) - 0.5) < 0.1
    assert max(shuffled) < real


def test_probe_round_trip_and_as_linear_give_the_same_logit(tmp_path: Path) -> None:
    x, y, groups = _patients(30, 2, 8, 1.0, seed=3)
    probe = fit_probe(x, y, groups, seed=0, cs=(0.01, 1.0))
    probe.save(tmp_path / "probe.json")
    loaded = LinearProbe.load(tmp_path / "probe.json")
    assert loaded.C == probe.C and loaded.class_weight == "balanced"
    np.testing.assert_allclose(loaded.predict_proba(x), probe.predict_proba(x))
    linear = loaded.as_linear()
    logits = linear(torch.from_numpy(x).float()).detach().numpy()[:, 0]
    expected = np.log(probe.predict_proba(x) / (1 - probe.predict_proba(x)))
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4)


def test_probe_matches_scikit_learn_pipeline() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y, groups = _patients(30, 2, 8, 1.0, seed=4)
    probe = fit_probe(x, y, groups, seed=0, cs=(0.1,))
    # The reference converged tightly: the probe's Newton solver lands closer to the optimum
    # than lbfgs does at its default tolerance (2e-4 apart in probability here).
    reference = make_pipeline(
        StandardScaler(), LogisticRegression(C=0.1, class_weight="balanced", max_iter=10000,
                                             tol=1e-10)
    ).fit(x, y)
    np.testing.assert_allclose(probe.predict_proba(x), reference.predict_proba(x)[:, 1],
                               atol=1e-5)


def test_one_class_data_is_a_clear_error() -> None:
    x = np.random.default_rng(0).normal(size=(10, 4))
    with pytest.raises(XraySSLError, match=r"both classes.*check --label-map") as err:
        fit_probe(x, np.zeros(10, dtype=int), np.arange(10).astype(str))
    assert "label fraction" not in str(err.value)  # the whole split has one class
    from xrayssl.evaluate.probe import check_labels

    with pytest.raises(XraySSLError, match="larger label fraction"):
        check_labels(np.zeros(4, dtype=int), "the 0.01 label subset", subset=True)


def test_loading_a_foreign_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text('{"weights": []}')
    with pytest.raises(XraySSLError, match="not an xrayssl probe"):
        LinearProbe.load(tmp_path / "x.json")


@pytest.mark.parametrize("dim", [16, 400])  # taller than wide, and wider than the 240 rows
def test_newton_solver_finds_the_lbfgs_probe(dim: int) -> None:
    """The same convex fit: same C, same coefficients, for tall and (rotated) wide inputs."""
    x, y, groups = _patients(120, 2, dim, 1.0, seed=3)
    kwargs: dict[str, Any] = {"cs": (0.01, 0.1, 1.0), "n_splits": 3}
    fast = fit_probe(x, y, groups, seed=0, solver="newton-cholesky", **kwargs)
    lbfgs = fit_probe(x, y, groups, seed=0, solver="lbfgs", max_iter=20000, **kwargs)
    assert fast.C == lbfgs.C
    assert fast.selection["cv_auroc"] == pytest.approx(lbfgs.selection["cv_auroc"], abs=2e-3)
    np.testing.assert_allclose(fast.coef, lbfgs.coef, atol=2e-3 * np.abs(lbfgs.coef).max())
    assert fast.intercept == pytest.approx(lbfgs.intercept, abs=2e-3)
    x_test, _, _ = _patients(50, 2, dim, 1.0, seed=4)
    np.testing.assert_allclose(fast.predict_proba(x_test), lbfgs.predict_proba(x_test),
                               atol=2e-3)


@pytest.mark.parametrize("dim", [16, 400])
@pytest.mark.parametrize("class_weight", ["balanced", None])
def test_path_newton_is_the_scikit_learn_fit(dim: int, class_weight: str | None) -> None:
    """The default solver and scikit-learn's newton-cholesky: the same C chosen, the same CV
    AUROC to 3 decimals and the same coefficients (one strictly convex objective)."""
    x, y, groups = _patients(150, 2, dim, 1.0, seed=5)
    y[:40] = 1  # unequal classes, so the class weights matter
    kwargs: dict[str, Any] = {"cs": (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0), "n_splits": 5,
                              "class_weight": class_weight}
    ours = fit_probe(x, y, groups, seed=0, **kwargs)
    sklearn = fit_probe(x, y, groups, seed=0, solver="newton-cholesky", **kwargs)
    assert ours.selection["solver"] == "path-newton"
    assert ours.C == sklearn.C
    assert np.round(ours.selection["cv_auroc"], 3).tolist() == np.round(
        sklearn.selection["cv_auroc"], 3).tolist()
    np.testing.assert_allclose(ours.coef, sklearn.coef, atol=1e-6 * np.abs(sklearn.coef).max())
    assert ours.intercept == pytest.approx(sklearn.intercept, abs=1e-6)


def test_unknown_solver_is_named() -> None:
    x, y, groups = _patients(20, 2, 4, 1.0, seed=0)
    with pytest.raises(XraySSLError, match=r"solver 'sag'.*newton-cholesky"):
        fit_probe(x, y, groups, solver="sag")  # type: ignore[arg-type]
