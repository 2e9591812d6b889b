"""Patient-level splits and label fractions: one patient's images never sit on both sides.

A model that has seen one view of a patient's elbow recognises the other views, so any
split by image would leak; every function here works on whole patients and keeps the
abnormal rate of each side close to the whole where the numbers allow.

One rule makes the three splits of every cache (:func:`protocol_splits`), once, when the
cache is prepared; pretraining, the probe, the kNN monitor and studies all read them:

* ``train``: pretraining and probe fitting (the probe's C is chosen by grouped CV inside it);
* ``val``: every choice (policy ranking, pruning, thresholds, the kNN monitor);
* ``test``: read once, for the selected policies and the floors.

From the source's own splits: a ``test`` split (folder, MedMNIST ``test_*`` arrays, CSV
``split`` column) is the test. Without one, the source's validation split is the test
(MURA's official ``valid``, whose test set is not public; class folders ``train/`` +
``val/``). Without either, ``test_fraction`` of the patients are carved out as the test
(flat class folders). ``val`` is the source's validation split when a test exists besides
it, else ``val_fraction`` of the training images carved out by patient. Carving is seeded
and stratified by body part and label (a patient's stratum: the body part of most of their
images, abnormal if any image is).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from xrayssl.config.data import SplitConfig
from xrayssl.data.records import Record
from xrayssl.errors import XraySSLError

SPLIT_RULE = "xrayssl-splits-v1"


def _patient_labels(labels: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """-> (unique patients, one label per patient: 1 if any image is abnormal)."""
    patients, inverse = np.unique(groups, return_inverse=True)
    per_patient = np.full(len(patients), -1, dtype=np.int64)
    np.maximum.at(per_patient, inverse, labels.astype(np.int64))
    return patients, per_patient


def _draw_patients(
    patient_stratum: np.ndarray, images_per_patient: np.ndarray, fraction: float,
    rng: np.random.Generator, keep_rest: bool = False,
) -> np.ndarray:
    """(P,) bool: whole patients drawn per stratum until each holds ``fraction`` of its
    images (the closest prefix of a random order; at least one patient per stratum).

    ``keep_rest``: never draw a stratum's last patient, so the side left behind keeps every
    stratum (a carved split must not take a rare body part's only abnormal patient away).
    """
    chosen = np.zeros(len(patient_stratum), dtype=bool)
    for stratum in np.unique(patient_stratum):
        members = rng.permutation(np.flatnonzero(patient_stratum == stratum))
        target = fraction * images_per_patient[members].sum()
        taken = np.cumsum(images_per_patient[members])
        count = max(1, int(np.searchsorted(taken, target, side="left")) + 1)
        if count > 1 and abs(taken[count - 2] - target) <= abs(taken[count - 1] - target):
            count -= 1
        if keep_rest:
            count = min(count, len(members) - 1)
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


# ---------------------------------------------------------------- the three protocol splits

_SOURCE_NAMES = {"train": "train", "val": "valid", "valid": "valid", "test": "test"}


def _source_split(record: Record) -> str | None:
    name = record.source_split if record.source_split is not None else record.split
    if name is None:
        return None
    if name not in _SOURCE_NAMES:
        raise XraySSLError(
            f"{record.path}: unknown split {name!r}; allowed: {', '.join(sorted(_SOURCE_NAMES))}"
        )
    return _SOURCE_NAMES[name]


def _carve(
    records: Sequence[Record], positions: np.ndarray, fraction: float, seed: int
) -> np.ndarray:
    """Positions of whole patients holding about ``fraction`` of ``positions``' images,
    stratified by (body part, label) per patient; every stratum keeps a patient behind."""
    if len(positions) == 0:
        return positions
    groups = np.asarray([records[i].patient_id or records[i].path for i in positions])
    patients, inverse = np.unique(groups, return_inverse=True)
    label = np.full(len(patients), -1, dtype=np.int64)
    np.maximum.at(label, inverse, np.asarray(
        [-1 if records[i].label is None else records[i].label for i in positions]))
    parts: list[dict[str, int]] = [{} for _ in patients]
    for position, patient in zip(positions, inverse, strict=True):
        part = records[position].body_part
        parts[patient][part] = parts[patient].get(part, 0) + 1
    # Most images first, then the name, so ties break the same way on every machine.
    main_part = [sorted(count.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] for count in parts]
    stratum = np.asarray([f"{part}|{y}" for part, y in zip(main_part, label, strict=True)])
    images = np.bincount(inverse, minlength=len(patients))
    chosen = _draw_patients(stratum, images, fraction, np.random.default_rng(seed),
                            keep_rest=True)
    out: np.ndarray = positions[chosen[inverse]]
    return out


def _tally(records: Sequence[Record], split: Sequence[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for name in ("train", "val", "test"):
        mine = [r for r, s in zip(records, split, strict=True) if s == name]
        out[name] = {
            "images": len(mine),
            "patients": len({r.patient_id or r.path for r in mine}),
            "positive": sum(1 for r in mine if r.label == 1),
            "labelled": sum(1 for r in mine if r.label is not None),
        }
    return out


def protocol_splits(
    records: Sequence[Record], config: SplitConfig | None = None
) -> tuple[list[Record], dict[str, Any]]:
    """The source's splits -> ``train``/``val``/``test`` by patient, and how each was made.

    Deterministic (seeded) and idempotent: records that already carry protocol splits keep
    them, since the rule reads ``source_split``. Returns the records with ``split`` set and
    ``source_split`` holding the source's word, and the description stored in the cache index
    and in every run file (``rule``, ``config``, ``how`` per split, ``counts`` per split).
    """
    config = config or SplitConfig()
    source = [_source_split(r) for r in records]
    present = set(source)
    split: list[str | None] = [None] * len(records)
    how: dict[str, str] = {}
    for i, name in enumerate(source):
        if name == "train":
            split[i] = "train"
        elif name == "test":
            split[i] = "test"
        elif name == "valid":
            split[i] = "val" if "test" in present else "test"
    # An unsplit image of a patient the source placed elsewhere joins that patient.
    placed = {records[i].patient_id: s for i, s in enumerate(split) if s and records[i].patient_id}
    for i, s in enumerate(split):
        if s is None and records[i].patient_id in placed:
            split[i] = placed[records[i].patient_id]
    if "test" in present:
        how["test"] = "the source's test split"
    elif "valid" in present:
        how["test"] = "the source's validation split (it has no test split)"
    else:
        pool = np.asarray([i for i, s in enumerate(split) if s in (None, "train")],
                          dtype=np.int64)
        for i in _carve(records, pool, config.test_fraction, config.seed):
            split[int(i)] = "test"
        how["test"] = (f"carved by patient: {config.test_fraction:.0%} of the images, "
                       f"stratified by body part and label, seed {config.seed}")
    split = ["train" if s is None else s for s in split]
    if "valid" in present and "test" in present:
        how["val"] = "the source's validation split"
    else:
        train = np.asarray([i for i, s in enumerate(split) if s == "train"], dtype=np.int64)
        # A different stream from the test carve: the two draws are independent.
        for i in _carve(records, train, config.val_fraction, config.seed + 1):
            split[int(i)] = "val"
        how["val"] = (f"carved from train by patient: {config.val_fraction:.0%} of its "
                      f"images, stratified by body part and label, seed {config.seed}")
    how["train"] = "the rest of the source's train split" if "train" in present else (
        "the images left after carving")
    out = [replace(r, split=s, source_split=src) for r, s, src in zip(
        records, split, source, strict=True)]
    info = {"rule": SPLIT_RULE, "config": config.model_dump(), "how": how,
            "counts": _tally(out, [s or "" for s in split])}
    return out, info


def describe_splits(info: dict[str, Any]) -> str:
    """One line: how each split of a cache was made."""
    how = info.get("how") or {}
    return "; ".join(f"{name}: {how[name]}" for name in ("train", "val", "test") if name in how)


def split_summary(info: dict[str, Any]) -> str:
    """Lines for people: images and patients per split, and how each split was made."""
    counts, how = info.get("counts") or {}, info.get("how") or {}
    lines = ["splits (by patient; select on val, report on test):"]
    for name in ("train", "val", "test"):
        c = counts.get(name) or {}
        lines.append(f"  {name}: {c.get('images', 0)} images, {c.get('patients', 0)} patients, "
                     f"{c.get('positive', 0)} abnormal; {how.get(name, '?')}")
    return "\n".join(lines)
