"""The prepared cache: every image decoded, resized and contrast-enhanced once.

Layout of a cache folder::

    images.npy    (N, S, S) uint8, opened as a read-only memory map
    masks.npy     (N, S, S) uint8 lesion masks (0/255), only when the source has masks
    index.json    {"version", "size", "config", "config_hash", "splits", "records": [...]}
    skipped.csv   path,reason for every input that could not be used

``splits`` says how the train / val / test splits of the records were made
(:func:`xrayssl.data.splits.protocol_splits`); an index written before splits were recorded
gets them by the same rule when it is opened.

``index.json`` is written last and atomically, so a folder without it is never mistaken for
a finished cache.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xrayssl.atomic import atomic_write_json
from xrayssl.data.records import Record
from xrayssl.data.splits import protocol_splits
from xrayssl.errors import XraySSLError

__all__ = ["PreparedCache", "write_index"]

CACHE_VERSION = 1
INDEX_FILE = "index.json"
IMAGES_FILE = "images.npy"
MASKS_FILE = "masks.npy"
SKIPPED_FILE = "skipped.csv"


@dataclass
class PreparedCache:
    """A finished cache, opened for reading. Images stay on disk until indexed."""

    root: Path
    images: np.ndarray  # (N, S, S) uint8 memmap
    records: list[Record]
    size: int
    config: dict[str, Any]
    config_hash: str
    masks: np.ndarray | None = None  # (N, S, S) uint8 memmap or None
    splits: dict[str, Any] = field(default_factory=dict)  # how train/val/test were made
    _labels: np.ndarray | None = field(default=None, repr=False)
    _patients: np.ndarray | None = field(default=None, repr=False)
    _studies: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def open(cls, root: str | Path) -> PreparedCache:
        root = Path(root)
        index_path = root / INDEX_FILE
        if not index_path.is_file():
            raise XraySSLError(
                f"{root} is not a prepared cache (no {INDEX_FILE}). "
                f"Create one with: xrayssl prepare SOURCE --out {root}"
            )
        try:
            index = json.loads(index_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise XraySSLError(
                f"{index_path} is damaged ({err}); prepare the cache again"
            ) from None
        if index.get("version") != CACHE_VERSION:
            raise XraySSLError(
                f"{root} was prepared by another version of xrayssl "
                f"(cache version {index.get('version')}, expected {CACHE_VERSION}); "
                "prepare it again"
            )
        images = np.load(root / IMAGES_FILE, mmap_mode="r")
        records = [Record.from_dict(row) for row in index["records"]]
        splits = index.get("splits")
        if not isinstance(splits, dict):
            records, splits = protocol_splits(records)
            splits["how"]["note"] = "derived when opened (the index predates recorded splits)"
        if images.shape[0] != len(records):
            raise XraySSLError(
                f"{root}: {images.shape[0]} images but {len(records)} records; prepare it again"
            )
        masks_path = root / MASKS_FILE
        masks = np.load(masks_path, mmap_mode="r") if masks_path.is_file() else None
        return cls(
            root=root,
            images=images,
            records=records,
            size=int(index["size"]),
            config=dict(index["config"]),
            config_hash=str(index["config_hash"]),
            masks=masks,
            splits=splits,
        )

    def __len__(self) -> int:
        return len(self.records)

    @property
    def labels(self) -> np.ndarray:
        """Labels as int64, -1 where unknown."""
        if self._labels is None:
            self._labels = np.array(
                [-1 if r.label is None else r.label for r in self.records], dtype=np.int64
            )
        return self._labels

    @property
    def patient_ids(self) -> np.ndarray:
        """(N,) str: each image's resampling unit, its patient, else its study, else its path.

        Built once: splits, bootstraps and study-level scores index it many times.
        """
        if self._patients is None:
            self._patients = np.asarray(
                [r.patient_id or r.study_id or r.path for r in self.records], dtype=str
            )
        return self._patients

    @property
    def study_ids(self) -> np.ndarray:
        """(N,) str: each image's study, else its path (one study per image)."""
        if self._studies is None:
            self._studies = np.asarray([r.study_id or r.path for r in self.records], dtype=str)
        return self._studies

    def select(
        self,
        splits: Sequence[str] | None = None,
        body_parts: Sequence[str] | None = None,
        labelled_only: bool = False,
    ) -> np.ndarray:
        """Indices of the records that match every given filter."""
        keep = [
            i
            for i, r in enumerate(self.records)
            if (splits is None or r.split in splits)
            and (body_parts is None or r.body_part in body_parts)
            and (not labelled_only or r.label is not None)
        ]
        return np.asarray(keep, dtype=np.int64)

    def body_parts(self) -> list[str]:
        return sorted({r.body_part for r in self.records})


def write_index(
    root: Path,
    records: Iterable[Record],
    size: int,
    config: dict[str, Any],
    config_hash: str,
    splits: dict[str, Any] | None = None,
) -> None:
    """Mark a cache finished. Call only after ``images.npy`` (and masks) are flushed.

    ``splits``: the description :func:`protocol_splits` returned with ``records``; None makes
    the protocol splits here, with the default settings.
    """
    if splits is None:
        records, splits = protocol_splits(list(records))
    atomic_write_json(
        root / INDEX_FILE,
        {
            "version": CACHE_VERSION,
            "size": size,
            "config": config,
            "config_hash": config_hash,
            "splits": splits,
            "records": [r.to_dict() for r in records],
        },
    )
