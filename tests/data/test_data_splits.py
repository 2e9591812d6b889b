"""Patient-level splits and label fractions never split a patient; strata are kept."""

from __future__ import annotations

import numpy as np
import pytest

from xrayssl.data.records import Record
from xrayssl.data.splits import assign_splits, label_fraction, patient_split
from xrayssl.errors import XraySSLError


def toy(n_patients: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """1..4 images per patient; 30% of patients abnormal (all their images)."""
    rng = np.random.default_rng(seed)
    per = rng.integers(1, 5, n_patients)
    groups = np.repeat([f"p{i}" for i in range(n_patients)], per)
    labels = np.repeat((rng.random(n_patients) < 0.3).astype(int), per)
    return labels, groups


def test_patient_split_is_grouped_and_stratified() -> None:
    labels, groups = toy()
    train, valid = patient_split(labels, groups, valid_fraction=0.2, seed=1)
    assert len(train) + len(valid) == len(labels)
    assert set(groups[train]).isdisjoint(groups[valid])
    assert 0.15 < len(set(groups[valid])) / 300 < 0.25
    assert abs(labels[valid].mean() - labels.mean()) < 0.05
    again = patient_split(labels, groups, valid_fraction=0.2, seed=1)
    np.testing.assert_array_equal(valid, again[1])


def test_patient_split_with_one_class_still_groups() -> None:
    labels, groups = np.zeros(20, int), np.repeat([f"p{i}" for i in range(10)], 2)
    train, valid = patient_split(labels, groups, 0.3, seed=0)
    assert set(groups[train]).isdisjoint(groups[valid]) and len(valid) > 0


def test_patient_split_needs_two_patients() -> None:
    with pytest.raises(XraySSLError, match="at least 2 patients"):
        patient_split([0, 1], ["a", "a"])


@pytest.mark.parametrize("fraction", [0.01, 0.1, 0.5, 1.0])
def test_label_fraction_is_patient_closed_and_stratified(fraction: float) -> None:
    labels, groups = toy(n_patients=2000)
    indices = np.arange(len(labels)) + 1000  # positions in some larger cache
    chosen = label_fraction(indices, labels, groups, fraction, seed=3)
    picked = np.isin(indices, chosen)
    # Patient-closed: every patient is either wholly in or wholly out.
    for patient in np.unique(groups[picked]):
        assert picked[groups == patient].all()
    assert set(labels[picked]) == {0, 1}
    assert abs(picked.sum() / len(labels) - fraction) < max(0.25 * fraction, 0.004)
    assert abs(labels[picked].mean() - labels.mean()) < (0.1 if fraction < 0.05 else 0.03)


def test_label_fraction_nested_seeds_differ_and_repeat() -> None:
    labels, groups = toy()
    idx = np.arange(len(labels))
    a = label_fraction(idx, labels, groups, 0.1, seed=0)
    np.testing.assert_array_equal(a, label_fraction(idx, labels, groups, 0.1, seed=0))
    assert not np.array_equal(a, label_fraction(idx, labels, groups, 0.1, seed=1))


def test_label_fraction_rejects_bad_fraction() -> None:
    with pytest.raises(XraySSLError, match=r"fraction must be in \(0, 1\]"):
        label_fraction([0], [0], ["a"], 0.0, seed=0)


def test_assign_splits_keeps_known_patients_together() -> None:
    records = [Record(path=f"{i}.png", label=i % 2, patient_id=f"p{i // 2}") for i in range(40)]
    records[0] = Record(path="0.png", label=0, patient_id="p0", split="valid")
    out = assign_splits(records, valid_fraction=0.25, seed=0)
    assert all(r.split in ("train", "valid") for r in out)
    assert out[1].split == "valid"  # same patient as the record already in valid
    by_patient: dict[str, set[str | None]] = {}
    for r in out:
        by_patient.setdefault(r.patient_id, set()).add(r.split)
    assert all(len(s) == 1 for s in by_patient.values())
