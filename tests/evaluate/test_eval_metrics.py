import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    cohen_kappa_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from xrayssl.errors import XraySSLError
from xrayssl.evaluate.metrics import (
    aggregate_studies,
    binary_metrics,
    delong_test,
    metrics_with_ci,
    paired_bootstrap,
    weighted_auroc,
)


def _known_arrays(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 200)
    prob = np.clip(0.3 * y + rng.normal(0.35, 0.25, 200), 0, 1)
    prob[:40] = np.round(prob[:40], 1)  # force ties in the scores
    return y, prob


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_equal_scikit_learn(seed: int) -> None:
    y, prob = _known_arrays(seed)
    pred = (prob >= 0.5).astype(int)
    got = binary_metrics(y, prob)
    assert got["auroc"] == pytest.approx(roc_auc_score(y, prob))
    assert got["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert got["kappa"] == pytest.approx(cohen_kappa_score(y, pred))
    assert got["sensitivity"] == pytest.approx(recall_score(y, pred))
    assert got["specificity"] == pytest.approx(recall_score(1 - y, 1 - pred))
    assert got["precision"] == pytest.approx(precision_score(y, pred))
    assert got["f1"] == pytest.approx(f1_score(y, pred))


def test_weighted_auroc_equals_scikit_learn_with_sample_weights() -> None:
    y, prob = _known_arrays(3)
    weights = np.random.default_rng(0).integers(0, 4, (5, len(y))).astype(float)
    got = weighted_auroc(y, prob, weights)
    for row, value in zip(weights, got, strict=True):
        assert value == pytest.approx(roc_auc_score(y, prob, sample_weight=row))


def test_study_level_means_image_probabilities() -> None:
    prob = np.array([0.2, 0.4, 0.9, 0.5, 0.7, 0.1])
    y = np.array([0, 0, 1, 1, 1, 0])
    studies = ["p1/s1", "p1/s1", "p1/s2", "p1/s2", "p2/s1", "p3/s1"]
    patients = ["p1", "p1", "p1", "p1", "p2", "p3"]
    study_prob, study_y, study_patient, ids = aggregate_studies(prob, y, studies, patients)
    assert ids.tolist() == ["p1/s1", "p1/s2", "p2/s1", "p3/s1"]
    assert study_prob == pytest.approx([0.3, 0.7, 0.7, 0.1])
    assert study_y.tolist() == [0, 1, 1, 0]
    assert study_patient.tolist() == ["p1", "p1", "p2", "p3"]
    # several prediction sets aggregate row by row
    two, _, _, _ = aggregate_studies(np.stack([prob, 1 - prob]), y, studies, patients)
    assert two[1] == pytest.approx([0.7, 0.3, 0.3, 0.9])


def test_study_with_mixed_labels_is_an_error() -> None:
    with pytest.raises(XraySSLError, match="different labels"):
        aggregate_studies(np.array([0.1, 0.2]), np.array([0, 1]), ["s", "s"], ["p", "p"])


def _simulate(rng: np.random.Generator, n_patients: int) -> tuple[np.ndarray, ...]:
    """Patients with 1-4 images that share a label and a patient effect (correlated images)."""
    sizes = rng.integers(1, 5, n_patients)
    patient_label = rng.integers(0, 2, n_patients)
    patient_effect = rng.normal(0, 1.0, n_patients)
    codes = np.repeat(np.arange(n_patients), sizes)
    y = patient_label[codes]
    score = 1.0 * y + patient_effect[codes] + rng.normal(0, 0.7, len(codes))
    return y, 1 / (1 + np.exp(-score)), codes.astype(str)


def test_cluster_bootstrap_ci_covers_true_auroc() -> None:
    rng = np.random.default_rng(0)
    # The population AUROC of the simulation, from one very large draw.
    y_big, p_big, _ = _simulate(rng, 200_000)
    true_auroc = roc_auc_score(y_big, p_big)
    trials, covered = 100, 0
    for trial in range(trials):
        y, prob, patients = _simulate(rng, 60)
        ci = metrics_with_ci(y, prob, patients, n_boot=300, seed=trial)["auroc"]
        covered += ci["lo"] <= true_auroc <= ci["hi"]
    assert covered / trials >= 0.88


def test_paired_bootstrap_detects_a_better_model_and_not_a_copy() -> None:
    rng = np.random.default_rng(1)
    y, good, patients = _simulate(rng, 150)
    noisy = np.clip(good + rng.normal(0, 0.4, len(y)), 0, 1)
    better = paired_bootstrap(y, noisy, good, patients, n_boot=500)
    assert better["delta"] > 0 and better["lo"] > 0 and better["p_value"] < 0.05
    same = paired_bootstrap(y, good, good, patients, n_boot=200)
    assert same["delta"] == 0 and same["lo"] == 0 and same["hi"] == 0


def test_metrics_with_ci_averages_prediction_sets() -> None:
    y, prob = _known_arrays(4)
    patients = np.arange(len(y)).astype(str)
    other = np.clip(prob + 0.1, 0, 1)
    both = metrics_with_ci(y, np.stack([prob, other]), patients, n_boot=50)
    assert both["auroc"]["value"] == pytest.approx(
        (roc_auc_score(y, prob) + roc_auc_score(y, other)) / 2
    )
    assert both["auroc"]["lo"] <= both["auroc"]["value"] <= both["auroc"]["hi"]


def test_non_binary_labels_are_rejected() -> None:
    with pytest.raises(XraySSLError, match="0/1"):
        binary_metrics(np.array([0, 2, 1]), np.array([0.1, 0.2, 0.3]))


def test_delong_matches_scikit_learn_auroc_and_bootstrap_spread() -> None:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 400)
    a = y * 0.8 + rng.normal(0, 1, 400)
    b = y * 1.2 + rng.normal(0, 1, 400)
    result = delong_test(y, a, b)
    assert result["a"] == pytest.approx(roc_auc_score(y, a))
    assert result["b"] == pytest.approx(roc_auc_score(y, b))
    # one image per patient: DeLong's standard error agrees with the bootstrap's spread
    patients = np.arange(len(y)).astype(str)
    boot = paired_bootstrap(y, a, b, patients, n_boot=1000)
    boot_se = (boot["hi"] - boot["lo"]) / (2 * 1.96)
    assert result["se"] == pytest.approx(boot_se, rel=0.25)
    assert result["p_value"] < 0.05
    assert delong_test(y, a, a)["p_value"] == 1.0
