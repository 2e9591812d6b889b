"""The SOURCES registry: one ``SourceLayout`` per way a dataset can be laid out on disk.

A layout says whether it recognises a path (``detect``) and turns it into records (``load``).
``load_source`` asks the layouts in ascending ``priority``: specific trees first (a MURA tree
also holds PNG folders), the catch-all walks of DICOM files and class folders last.

Add a layout: subclass ``SourceLayout`` in a module of this package (``detect`` and ``read``),
give it a ``name`` and a ``priority``, decorate it with ``@SOURCES.register()``, import the
module in ``__init__``, and add its test. Nothing else changes. ``load`` = ``read`` + the
body-part filter; ``scan`` also returns what the loader had to skip.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from xrayssl.data.body_part import normalise_body_parts
from xrayssl.data.dicom import is_dicom_file
from xrayssl.data.io import IMAGE_SUFFIXES
from xrayssl.data.records import Record
from xrayssl.errors import XraySSLError
from xrayssl.registry import Registry

# A layout's records and the entries it had to skip, as (path, reason).
Scanned = tuple[list[Record], list[tuple[str, str]]]

SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "val": "valid",
    "valid": "valid",
    "validation": "valid",
    "test": "test",
    "testing": "test",
}


class SourceLayout(ABC):
    """One dataset layout. Loaders list files and read metadata; they do not decode images:
    a missing or broken file is found and reported by ``prepare``."""

    name: ClassVar[str] = ""
    # Lower is asked first: a layout that is a special case of another must come before it.
    priority: ClassVar[int] = 50

    @staticmethod
    @abstractmethod
    def detect(path: Path) -> bool:
        """True when ``path`` (absolute, existing) is laid out this way."""

    @staticmethod
    @abstractmethod
    def read(path: Path, label_map: dict[str, int] | None) -> list[Record]:
        """Every record under ``path``; ``label_map`` names the labels (None: the defaults)."""

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        label_map: dict[str, int] | None = None,
        body_parts: Sequence[str] | None = None,
    ) -> list[Record]:
        """Every record under ``path``, restricted to ``body_parts`` when given."""
        return filter_body_parts(cls.read(path, label_map), body_parts)

    @classmethod
    def scan(cls, path: Path, label_map: dict[str, int] | None = None,
             body_parts: Sequence[str] | None = None) -> Scanned:
        """``load`` plus the entries the loader could not use, as (path, reason); a layout
        that lists files without reading them (most) has none."""
        return cls.load(path, label_map=label_map, body_parts=body_parts), []


SOURCES: Registry[type[SourceLayout]] = Registry("source layout")


def layouts_in_order(layouts: Registry[type[SourceLayout]] = SOURCES) -> list[type[SourceLayout]]:
    return sorted((layout for _, layout in layouts.items()), key=lambda lay: lay.priority)


def label_of(name: str, label_map: dict[str, int], where: str) -> int:
    key = name.strip().lower()
    if key in label_map:
        return label_map[key]
    raise XraySSLError(
        f"{where}: unknown label {name!r}; known labels: "
        f"{', '.join(f'{k}={v}' for k, v in sorted(label_map.items()))} "
        "(map names with --label-map, e.g. --label-map normal=0,abnormal=1)"
    )


def split_of(name: str | None, where: str) -> str | None:
    if name is None or not name.strip():
        return None
    key = name.strip().lower()
    if key not in SPLIT_ALIASES:
        raise XraySSLError(
            f"{where}: unknown split {name!r}; allowed values: {', '.join(sorted(SPLIT_ALIASES))}"
        )
    return SPLIT_ALIASES[key]


def image_files(folder: Path) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        files += [
            Path(dirpath, name)
            for name in sorted(filenames)
            if name.lower().endswith(IMAGE_SUFFIXES) and not name.startswith(".")
        ]
    return files


def subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


DICOM_SUFFIXES = (".dcm", ".dicom")


def first_file_kind(root: Path) -> str | None:
    """``"dicom"`` or ``"image"``: the kind of the first image file a walk of ``root`` meets.

    A folder of PNGs with one stray DICOM (or the reverse) is read by the layout of the file
    met first, as the walk order of the folder gives it; None when there is no image at all.
    """
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            lower = name.lower()
            if lower.endswith(DICOM_SUFFIXES):
                return "dicom"
            if lower.endswith(IMAGE_SUFFIXES):
                return "image"
            if "." not in name and is_dicom_file(Path(dirpath, name)):
                return "dicom"
    return None


def filter_body_parts(records: list[Record], body_parts: Sequence[str] | None) -> list[Record]:
    if body_parts is None:
        return records
    present = sorted({r.body_part for r in records})
    wanted = normalise_body_parts(body_parts, valid=present)
    assert wanted is not None
    return [r for r in records if r.body_part in wanted]
