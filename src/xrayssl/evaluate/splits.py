"""The splits of a prepared cache as the probe reads them: train / val / test indices, the
resampling unit of each image, and the label subsets of a label fraction.

The splits themselves are made once by ``prepare`` (``data.splits.protocol_splits``) and
recorded in the cache; this module only reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from xrayssl.data.cache import PreparedCache
from xrayssl.data.splits import describe_splits, label_fraction
from xrayssl.errors import XraySSLError
from xrayssl.evaluate.probe import check_labels


@dataclass
class EvalSplit:
    """Cache indices of the labelled images of each protocol split (sorted)."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    how: str  # all three, in one line
    how_val: str = ""
    how_test: str = ""


def patient_ids(cache: PreparedCache, indices: np.ndarray) -> np.ndarray:
    """The resampling unit of an image: its patient, else its study, else the image itself."""
    out: np.ndarray = cache.patient_ids[np.asarray(indices, dtype=np.int64)]
    return out


def resampling_unit(cache: PreparedCache, indices: np.ndarray) -> str:
    """What ``patient_ids`` resamples: patients, else studies, else single images (MedMNIST)."""
    if len(set(patient_ids(cache, indices).tolist())) == len(indices):
        return "image"  # one image per resampled unit: there is nothing to cluster
    records = [cache.records[int(i)] for i in indices]
    return "patient" if any(r.patient_id for r in records) else "study"


def study_ids(cache: PreparedCache, indices: np.ndarray) -> np.ndarray:
    out: np.ndarray = cache.study_ids[np.asarray(indices, dtype=np.int64)]
    return out


def make_split(cache: PreparedCache, body_parts: Sequence[str] | None) -> EvalSplit:
    """The labelled train / val / test images of ``body_parts`` (all when None)."""
    if body_parts:
        unknown = sorted(set(body_parts) - set(cache.body_parts()))
        if unknown:
            raise XraySSLError(
                f"body part(s) {unknown} not in {cache.root}; it has {cache.body_parts()}"
            )
    labelled = cache.select(body_parts=body_parts, labelled_only=True)
    if len(labelled) == 0:
        raise XraySSLError(f"{cache.root} has no labelled images for body parts {body_parts}")
    split = np.asarray([cache.records[int(i)].split or "" for i in labelled])
    parts = {name: np.sort(labelled[split == name]) for name in ("train", "val", "test")}
    empty = [name for name, idx in parts.items() if len(idx) == 0]
    if empty:
        raise XraySSLError(
            f"{cache.root} has no labelled {' or '.join(empty)} images for body parts "
            f"{list(body_parts) if body_parts else 'all'} "
            f"(splits: {describe_splits(cache.splits)}); prepare it again with a larger "
            "--val-fraction/--test-fraction or more patients"
        )
    how = cache.splits.get("how") or {}
    return EvalSplit(parts["train"], parts["val"], parts["test"], describe_splits(cache.splits),
                     how_val=str(how.get("val", "")), how_test=str(how.get("test", "")))


def label_subset(
    cache: PreparedCache, train: np.ndarray, fraction: float, seed: int
) -> np.ndarray:
    """A stratified, patient-grouped subset of ``train`` holding ``fraction`` of its labels."""
    if fraction >= 1:
        return train
    labels, groups = cache.labels[train], patient_ids(cache, train)
    subset = np.asarray(label_fraction(train, labels, groups, fraction, seed), dtype=np.int64)
    check_labels(cache.labels[subset], f"the {fraction:g} label subset (seed {seed})",
                 subset=True)
    return np.sort(subset)
