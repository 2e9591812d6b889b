"""AI Hub "major-disease synthetic image data (X-ray)" -> records.

The release is laid out as::

    085.주요질환_이미지_합성데이터(X-ray)/01-1.정식개방데이터/
        Training/01.원천데이터/TS_01.ChestPA_Normal/*.png        images
        Training/02.라벨링데이터/TL_01.ChestPA_Normal/*.json     one JSON per image
        Validation/01.원천데이터/VS_05.Foot_Hallux_Valgus/*.png
        Validation/02.라벨링데이터/VL_05.Foot_Hallux_Valgus/*.json

The seed study's reorganised copy reads too: ``aihub/{Train,Validation}/{01.원천데이터,
02.라벨링데이터}/<BodyPart>_{Normal,Abnormal}/`` (no ``TS_nn.`` prefix, ``Train`` for
``Training``), where a JSON's ``label`` names the condition that the folder leaves at
Abnormal. Any of these folders may instead be a zip archive of the same name plus ``.zip``.
A category folder is ``<prefix>_<nn>.<BodyPart>_<Condition>`` (or ``<BodyPart>_<Condition>``);
the part after the prefix pairs an image folder with its label folder. Five body parts
(ChestPA, Mammography, PNS, Facial_bone, Foot) and conditions Normal, Abnormal or a named
disease (Flat_Foot, Hallux_Valgus, Plantar, Haziness, ...). How the release names things is
:mod:`.aihub_names`; this module pairs the images with their label JSONs.

* label: 0 for Normal, 1 for any other condition (the same direction as MURA's 1 = abnormal);
  the condition itself is kept on the record for per-condition metrics.
* body part and condition come from the category folder, the split from Training (``train``)
  or Validation (``valid``).
* the image of a JSON is its ``filepath`` when that resolves on this machine; the path was
  written on another machine, so otherwise the image is found by ``filename`` (or the last part
  of ``filepath``) under ``01.원천데이터`` of the same split, in the category of the same name.
  Keys other than ``filepath``/``filename`` are ignored.
* a JSON whose image is missing, an image no JSON names, an unreadable JSON and a folder whose
  name is not a known category are returned as ``skipped`` (path, reason); ``prepare`` lists
  them in the cache's ``skipped.csv``.
* grouping: synthetic images have no patients. Each image is its own patient and study: the
  release publishes nothing that links two images, and grouping by category folder would put a
  whole condition on one side of every patient-level split (label subsets, a carved-out val).
"""

from __future__ import annotations

import json
import os
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from xrayssl.data.checks import DataWarning
from xrayssl.data.io import IMAGE_SUFFIXES, ZIP_MARK
from xrayssl.data.records import Record
from xrayssl.data.sources.aihub_names import (
    BODY_PARTS,
    GENERIC_CONDITIONS,
    IMAGES_DIR,
    LABELS_DIR,
    NORMAL,
    SPLIT_DIRS,
    Category,
    nfc,
    parse_category,
)
from xrayssl.data.sources.layout import SOURCES, Scanned, SourceLayout
from xrayssl.errors import XraySSLError

SOURCE = "aihub"
_SEARCH_DEPTH = 3  # how far below the given folder the Training/Validation folders may sit


@dataclass
class AihubScan:
    """What the loader found: records to prepare and entries it could not use."""

    records: list[Record] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


def _children(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def split_folders(root: Path) -> list[tuple[str, Path]]:
    """``(split, Training|Validation folder)`` pairs at most a few levels below ``root``."""
    found: list[tuple[str, Path]] = []
    frontier = [root]
    for _ in range(_SEARCH_DEPTH + 1):
        deeper: list[Path] = []
        for folder in frontier:
            split = SPLIT_DIRS.get(nfc(folder.name))
            names = {nfc(p.name) for p in folder.iterdir()} if folder.is_dir() else set()
            if split is not None and (LABELS_DIR in names or f"{LABELS_DIR}.zip" in names):
                found.append((split, folder))
            elif folder.is_dir():
                deeper += [p for p in _children(folder) if p.is_dir()]
        if found:
            return found
        frontier = deeper
    return found


def detect(path: Path) -> bool:
    """Whether ``path`` holds the AI Hub layout (a Training or Validation folder with
    ``02.라벨링데이터`` at most three levels down)."""
    return path.is_dir() and bool(split_folders(path))


def _entries(container: Path) -> Iterator[tuple[str, str, Path]]:
    """(name, reference, where) of the files in a folder tree or zip archive: ``reference``
    is what ``read_image`` opens (``archive.zip#member`` inside a zip)."""
    if container.is_dir():
        for dirpath, dirnames, filenames in os.walk(container):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if not name.startswith("."):
                    yield nfc(name), str(Path(dirpath, name)), Path(dirpath)
        return
    with zipfile.ZipFile(container) as archive:
        for member in sorted(archive.namelist()):
            name = PurePosixPath(member).name
            if member.endswith("/") or not name or name.startswith("."):
                continue
            yield nfc(name), f"{str(container)[: -len('.zip')]}{ZIP_MARK}{member}", container


def _categories(folder: Path, scan: AihubScan) -> list[tuple[Category, Path]]:
    """Category folders (or zips) directly under ``folder``; others are reported."""
    out: list[tuple[Category, Path]] = []
    if not folder.exists():
        zipped = folder.with_name(folder.name + ".zip")
        if not zipped.is_file():
            return out
        raise XraySSLError(
            f"{zipped}: unzip this archive first (it holds all categories in one file); "
            "zipped category folders inside it are read as they are"
        )
    for child in _children(folder):
        if child.is_file() and not child.name.lower().endswith(".zip"):
            continue
        category = parse_category(child.name)
        if category is None:
            scan.skipped.append((str(child), (
                "not an AI Hub category folder (expected <prefix>_<nn>.<BodyPart>_<Condition> "
                f"or <BodyPart>_<Condition>, with a body part among {', '.join(BODY_PARTS)})")))
            continue
        out.append((category, child))
    return out


def _label_fields(data: Any) -> dict[str, Any] | None:
    """The first object (the top level, else a nested one) that names the image."""
    if isinstance(data, dict):
        if isinstance(data.get("filename"), str) or isinstance(data.get("filepath"), str):
            return data
        for value in data.values():
            found = _label_fields(value)
            if found is not None:
                return found
    elif isinstance(data, list):
        for value in data:
            found = _label_fields(value)
            if found is not None:
                return found
    return None


def _read_json(reference: str) -> Any:
    if ZIP_MARK in reference:
        head, _, member = reference.partition(ZIP_MARK)
        with zipfile.ZipFile(head + ".zip") as archive:
            raw = archive.read(member)
    else:
        raw = Path(reference).read_bytes()
    return json.loads(raw.decode("utf-8-sig"))


def _file_name(text: str) -> str:
    """Last part of a path written on any machine (``C:\\x\\a.png`` or ``/x/a.png``)."""
    return nfc(PureWindowsPath(text).name if "\\" in text else PurePosixPath(text).name)


def scan_split(split: str, folder: Path, scan: AihubScan) -> None:
    """Pair the JSONs of one Training/Validation folder with their images."""
    # images[key][file name] -> reference; the same name may appear in several categories.
    images: dict[str, dict[str, str]] = {}
    for category, container in _categories(folder / IMAGES_DIR, scan):
        bucket = images.setdefault(category.key, {})
        for name, reference, _ in _entries(container):
            if name.lower().endswith(IMAGE_SUFFIXES):
                bucket.setdefault(name, reference)
    used: set[str] = set()
    for category, container in _categories(folder / LABELS_DIR, scan):
        for name, reference, _ in _entries(container):
            if not name.lower().endswith(".json"):
                continue
            try:
                fields = _label_fields(_read_json(reference))
            except (ValueError, OSError, KeyError) as err:
                scan.skipped.append((reference, f"label JSON cannot be read ({err})"))
                continue
            if fields is None:
                scan.skipped.append((reference, "label JSON names no image (no 'filename' or "
                                                "'filepath')"))
                continue
            image = _resolve(fields, category, images, folder)
            if image is None:
                wanted = fields.get("filename") or _file_name(str(fields.get("filepath")))
                scan.skipped.append((reference, (
                    f"image {wanted!r} not found (neither its filepath nor under "
                    f"{folder.name}/{IMAGES_DIR}/*{category.key})")))
                continue
            if image in used:
                scan.skipped.append((reference, f"image {image} is already labelled by another "
                                                "JSON"))
                continue
            condition, problem = _condition(fields, category)
            if problem is not None:
                scan.skipped.append((reference, problem))
                continue
            used.add(image)
            stem = PurePosixPath(image.replace("\\", "/")).stem
            group = f"{SOURCE}/{split}/{category.key}/{stem}"
            scan.records.append(Record(
                path=image, label=category.label, body_part=category.body_part,
                patient_id=group, study_id=group, split=split, source=SOURCE,
                condition=condition,
            ))
    for key, bucket in sorted(images.items()):
        for reference in bucket.values():
            if reference not in used:
                scan.skipped.append((reference, (
                    f"image without a label JSON (none under {folder.name}/{LABELS_DIR}/*{key})"
                )))


def _condition(fields: dict[str, Any], category: Category) -> tuple[str, str | None]:
    """The image's condition: the folder's, or the JSON's ``label`` where the folder says only
    Normal/Abnormal (the seed study's copy); a JSON label that contradicts the folder's class
    is a problem (the entry is skipped with it)."""
    written = fields.get("label")
    if isinstance(written, bool) or not isinstance(written, (str, int)):
        return category.condition, None
    text = str(written).strip()
    says_normal = text.lower() in (NORMAL, "0")
    if text.lower() in ("1", "abnormal", NORMAL, "0") or not text:
        if text and says_normal != (category.label == 0):
            return category.condition, (f"label {written!r} in the JSON contradicts its folder "
                                        f"({category.condition})")
        return category.condition, None
    if category.condition.lower() not in GENERIC_CONDITIONS:
        return category.condition, None  # the folder names the disease already
    if category.label == 0:
        return category.condition, (f"label {written!r} in the JSON names a condition, its "
                                    f"folder says {category.condition}")
    return text, None


def _resolve(
    fields: dict[str, Any], category: Category, images: dict[str, dict[str, str]], folder: Path
) -> str | None:
    """The image a JSON names: its ``filepath`` if that exists here, else by file name in the
    category of the same key."""
    filepath = fields.get("filepath")
    filename = fields.get("filename")
    bucket = images.get(category.key, {})
    if isinstance(filepath, str) and filepath.strip():
        candidate = Path(filepath)
        if not candidate.is_absolute():
            candidate = folder / filepath
        if candidate.is_file():
            listed = bucket.get(nfc(candidate.name))
            if listed is not None and ZIP_MARK not in listed and os.path.samefile(listed,
                                                                                 candidate):
                return listed  # the same file the folder walk found, spelt the same way
            return str(candidate)
    name = filename if isinstance(filename, str) and filename.strip() else None
    if name is None and isinstance(filepath, str):
        name = _file_name(filepath)
    if not name:
        return None
    name = nfc(_file_name(name))
    if name in bucket:
        return bucket[name]
    # A file name without its suffix, or with another image suffix.
    stem = PurePosixPath(name).stem
    for candidate_name, reference in bucket.items():
        if PurePosixPath(candidate_name).stem == stem:
            return reference
    return None


def scan_aihub(root: Path | str) -> AihubScan:
    """Records and skipped entries of an AI Hub release below ``root``."""
    root = Path(root).expanduser().resolve()
    folders = split_folders(root) if root.is_dir() else []
    if not folders:
        raise XraySSLError(
            f"{root} does not hold the AI Hub layout: expected Training/ or Validation/ "
            f"folders with {IMAGES_DIR}/ and {LABELS_DIR}/ inside (at most "
            f"{_SEARCH_DEPTH} levels down)"
        )
    scan = AihubScan()
    for split, folder in folders:
        scan_split(split, folder, scan)
    if not scan.records:
        reasons = sorted({reason for _, reason in scan.skipped})[:3]
        raise XraySSLError(
            f"{root}: no image could be paired with its label JSON"
            + (f" ({'; '.join(reasons)})" if reasons else "")
        )
    return scan


def load_aihub(root: Path | str, body_parts: Sequence[str] | None = None) -> list[Record]:
    """The records alone (``scan_aihub`` also returns what was skipped); entries skipped are
    announced with a DataWarning."""
    scan = scan_aihub(root)
    if scan.skipped:
        warnings.warn(
            f"{root}: {len(scan.skipped)} AI Hub entries skipped (first: {scan.skipped[0][0]}: "
            f"{scan.skipped[0][1]}); prepare lists them all in skipped.csv",
            DataWarning, stacklevel=2,
        )
    return select_body_parts(scan.records, body_parts)


def select_body_parts(records: list[Record], body_parts: Sequence[str] | None) -> list[Record]:
    if body_parts is None:
        return records
    wanted = {part.strip().lower().replace(" ", "_") for part in body_parts if part.strip()}
    unknown = sorted(wanted - set(BODY_PARTS.values()))
    if unknown:
        raise XraySSLError(
            f"unknown AI Hub body part {', '.join(repr(u) for u in unknown)}; "
            f"valid body parts: {', '.join(BODY_PARTS.values())}"
        )
    return [r for r in records if r.body_part in wanted]


@SOURCES.register()
class AihubRelease(SourceLayout):
    name = "aihub"
    priority = 20  # its folders hold PNGs: asked before the class-folder catch-all

    @staticmethod
    def detect(path: Path) -> bool:
        return detect(path)

    @staticmethod
    def read(path: Path, label_map: dict[str, int] | None) -> list[Record]:
        # Labels come from the category folders (Normal -> 0), so label_map does not apply.
        return load_aihub(path)

    @classmethod
    def scan(cls, path: Path, label_map: dict[str, int] | None = None,
             body_parts: Sequence[str] | None = None) -> Scanned:
        # The release names its own body parts and pairs images with JSONs: what it cannot
        # pair is skipped with the reason.
        found = scan_aihub(path)
        return select_body_parts(found.records, body_parts), found.skipped
