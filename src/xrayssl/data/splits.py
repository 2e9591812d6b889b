"""Patient-level splits and label fractions: one patient's images never sit on both sides.

A model that has seen one view of a patient's elbow recognises the other views, so any
split by image would leak; both functions here work on whole patients and keep the
abnormal rate of each side close to the whole where the numbers allow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from xrayssl.data.records import Record
from xrayssl.errors import XraySSLError


def _patient_labels(labels: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """-> (unique patients, one label per patient: 1 if any image is abnormal)."""
    patients, inverse = np.unique(groups, return_inverse=True)
    per_patient = np.full(len(patients), -1, dtype=np.int64)
    np.maximum.at(per_patient, inverse, labels.astype(np.int64))
    return patients, per_patient


def _draw_patients(
    patient_label: np.ndarray, images_per_patient: np.ndarray, fraction: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """(P,) bool: whole patients drawn per label stratum until each holds ``fraction`` of
    its images (the closest prefix of a random order; at least one patient per stratum)."""
    chosen = np.zeros(len(patient_label), dtype=bool)
    for stratum in np.unique(patient_label):
        members = rng.permutation(np.flatnonzero(patient_label == stratum))
        target = fraction * images_per_patient[members].sum()
        taken = np.cumsum(images_per_patient[members])
        count = max(1, int(np.searchsorted(taken, target, side="left")) + 1)
        if count > 1 and abs(taken[count - 2] - target) <= abs(taken[count - 1] - target):
            count -= 1
        chosen[members[:count]] = True
    return chosen


def _patients_of(
    labels: np.ndarray, groups: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """-> (label per patient, images per patient, patient position of each image)."""
    patients, patient_label = _patient_labels(labels, groups)
    inverse = np.searchsorted(patients, groups)
    return patient_label, np.bincount(inverse, minlength=len(patients)), inverse


def patient_split(
    labels: np.ndarray | Sequence[int],
    groups: np.ndarray | Sequence[str],
    valid_fraction: float = 0.2,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions 0..N-1 -> (train, valid) index arrays, grouped by patient, stratified.

    ``labels``: (N,) 0/1 (-1 for unknown); ``groups``: (N,) patient ids. About
    ``valid_fraction`` of the images of each class go to valid, as whole patients.
    """
    labels = np.asarray(labels, dtype=np.int64)
    groups = np.asarray(groups)
    if labels.shape != groups.shape or labels.ndim != 1:
        raise ValueError(f"labels {labels.shape} and groups {groups.shape} must be equal 1-D")
    if not 0.0 < valid_fraction < 1.0:
        raise XraySSLError(
            f"valid_fraction must be between 0 and 1 (exclusive), got {valid_fraction}"
        )
    patient_label, images_per_patient, inverse = _patients_of(labels, groups)
    if len(patient_label) < 2:
        raise XraySSLError(
            f"a patient-level split needs at least 2 patients, got {len(patient_label)}"
        )
    rng = np.random.default_rng(seed)
    valid_patients = _draw_patients(patient_label, images_per_patient, valid_fraction, rng)
    if valid_patients.all():
        # Tiny inputs: one patient per stratum took everyone; train keeps one of them.
        valid_patients[rng.choice(len(valid_patients))] = False
    in_valid = valid_patients[inverse]
    return np.flatnonzero(~in_valid), np.flatnonzero(in_valid)


def assign_splits(
    records: Sequence[Record], valid_fraction: float = 0.2, seed: int = 0
) -> list[Record]:
    """Give records without a split 'train' or 'valid' by patient; keep existing splits.

    A patient who already has a split elsewhere in ``records`` joins that split.
    """
    known = {r.patient_id: r.split for r in records if r.split is not None}
    open_positions = [i for i, r in enumerate(records) if r.split is None]
    out = list(records)
    free = [i for i in open_positions if records[i].patient_id not in known]
    for i in open_positions:
        if records[i].patient_id in known:
            out[i] = replace(records[i], split=known[records[i].patient_id])
    if free:
        labels = np.array([-1 if records[i].label is None else records[i].label for i in free])
        groups = np.array([records[i].patient_id for i in free])
        train, valid = patient_split(labels, groups, valid_fraction, seed)
        for position, split in [(p, "train") for p in train] + [(p, "valid") for p in valid]:
            out[free[position]] = replace(records[free[position]], split=split)
    return out


def label_fraction(
    indices: np.ndarray | Sequence[int],
    labels: np.ndarray | Sequence[int],
    groups: np.ndarray | Sequence[str],
    fraction: float,
    seed: int,
) -> np.ndarray:
    """A stratified, patient-grouped subset of ``indices`` with about ``fraction`` of the images.

    ``labels`` and ``groups`` are aligned with ``indices``. Whole patients are drawn, at
    random (``seed``), separately for patients with and without an abnormal image, until each
    class stratum holds its share; each present class keeps at least one patient, so a probe
    on a 1% subset still sees both classes. Returns the chosen indices, sorted.
    """
    indices = np.asarray(indices, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    groups = np.asarray(groups)
    if not (indices.shape == labels.shape == groups.shape):
        raise ValueError(
            f"indices {indices.shape}, labels {labels.shape}, groups {groups.shape} must align"
        )
    if not 0.0 < fraction <= 1.0:
        raise XraySSLError(f"fraction must be in (0, 1] (e.g. 0.01, 0.1, 1.0), got {fraction}")
    if fraction == 1.0 or len(indices) == 0:
        return np.sort(indices)
    patient_label, images_per_patient, inverse = _patients_of(labels, groups)
    chosen = _draw_patients(patient_label, images_per_patient, fraction,
                            np.random.default_rng(seed))
    return np.sort(indices[chosen[inverse]])
