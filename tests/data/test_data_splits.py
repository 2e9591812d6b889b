"""Patient-level splits and label fractions never split a patient; strata are kept."""

from __future__ import annotations

import numpy as np
import pytest

from xrayssl.config.data import SplitConfig
from xrayssl.data.records import Record
from xrayssl.data.splits import label_fraction, patient_split, protocol_splits
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


def source_records(
    splits: dict[str | None, int], parts: tuple[str, ...] = ("elbow", "wrist"), seed: int = 0
) -> list[Record]:
    """``splits``: source split -> number of patients; 1..3 images each, 30% abnormal."""
    rng = np.random.default_rng(seed)
    records = []
    number = 0
    for split, patients in splits.items():
        for _ in range(patients):
            label = int(rng.random() < 0.3)
            part = parts[number % len(parts)]
            for image in range(int(rng.integers(1, 4))):
                records.append(Record(path=f"{split}/p{number}/{image}.png", label=label,
                                      body_part=part, patient_id=f"p{number}", split=split))
            number += 1
    return records


def by_patient(records: list[Record]) -> dict[str, set[str | None]]:
    out: dict[str, set[str | None]] = {}
    for r in records:
        out.setdefault(r.patient_id, set()).add(r.split)
    return out


def test_mura_like_source_valid_is_test_and_val_is_carved_from_train() -> None:
    records = source_records({"train": 400, "valid": 60})
    out, info = protocol_splits(records, SplitConfig(val_fraction=0.15, seed=3))
    assert {r.split for r in out} == {"train", "val", "test"}
    # The source's valid is the test, untouched; val comes only out of the source's train.
    assert all((r.split == "test") == (r.source_split == "valid") for r in out)
    assert all(r.source_split == "train" for r in out if r.split == "val")
    assert all(len(s) == 1 for s in by_patient(out).values())  # no patient in two splits
    train_images = sum(r.source_split == "train" for r in out)
    assert 0.12 < info["counts"]["val"]["images"] / train_images < 0.18
    for part in ("elbow", "wrist"):  # stratified per body part and label
        for label in (0, 1):
            mine = [r for r in out if r.source_split == "train" and r.body_part == part
                    and r.label == label]
            share = sum(r.split == "val" for r in mine) / len(mine)
            assert 0.08 < share < 0.22, (part, label, share)
    assert "validation split" in info["how"]["test"] and "carved" in info["how"]["val"]
    again, _ = protocol_splits(records, SplitConfig(val_fraction=0.15, seed=3))
    assert again == out  # seeded
    other, _ = protocol_splits(records, SplitConfig(val_fraction=0.15, seed=4))
    assert [r.split for r in other] != [r.split for r in out]
    twice, info_twice = protocol_splits(out, SplitConfig(val_fraction=0.15, seed=3))
    assert twice == out and info_twice == info  # idempotent: the rule reads source_split


def test_a_source_with_a_test_split_keeps_its_val_and_test() -> None:
    records = source_records({"train": 50, "valid": 10, "test": 10})
    out, info = protocol_splits(records)
    assert [r.split for r in out] == [
        {"train": "train", "valid": "val", "test": "test"}[str(r.split)] for r in records]
    assert info["how"]["val"] == "the source's validation split"


def test_a_source_with_train_and_test_only_gets_a_val_carved_from_train() -> None:
    records = source_records({"train": 100, "test": 20})
    out, _ = protocol_splits(records)
    assert all(r.split == "test" for r in out if r.source_split == "test")
    assert {r.source_split for r in out if r.split == "val"} == {"train"}


def test_flat_source_gets_test_and_val_carved_by_patient() -> None:
    records = source_records({None: 300})
    out, info = protocol_splits(records, SplitConfig(val_fraction=0.15, test_fraction=0.2))
    counts = info["counts"]
    total = len(records)
    assert 0.16 < counts["test"]["images"] / total < 0.24
    assert 0.12 < counts["val"]["images"] / (total - counts["test"]["images"]) < 0.18
    assert all(len(s) == 1 for s in by_patient(out).values())
    assert all(c["positive"] > 0 for c in counts.values())


def test_small_strata_keep_a_patient_on_the_training_side() -> None:
    # One abnormal wrist patient: carving must not take it away from train.
    records = [Record(path=f"{i}.png", label=0, body_part="elbow", patient_id=f"p{i}",
                      split="train") for i in range(20)]
    records.append(Record(path="w.png", label=1, body_part="wrist", patient_id="w",
                          split="train"))
    records.append(Record(path="t.png", label=1, body_part="wrist", patient_id="t",
                          split="valid"))
    out, _ = protocol_splits(records)
    assert out[-2].split == "train" and out[-1].split == "test"


def test_unknown_source_split_is_one_clear_error() -> None:
    with pytest.raises(XraySSLError, match="unknown split 'holdout'"):
        protocol_splits([Record(path="a.png", label=0, split="holdout")])
