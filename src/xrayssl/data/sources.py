"""Every supported source layout -> records, and ``load_source`` that tells them apart.

* MURA v1.1 tree (see :mod:`xrayssl.data.mura`)
* AI Hub synthetic X-ray release (see :mod:`xrayssl.data.aihub`)
* class folders: ``root/[<split>/]<label>/**/*.png`` with label names mapped to 0/1
* CSV manifest: a header with ``path,label[,body_part,patient_id,study_id,split]``
  (paths relative to the CSV); a folder holding ``labels.csv`` or ``manifest.csv`` with a
  ``path`` column is read through it, so patient ids listed there are used
* MedMNIST ``.npz``: ``{train,val,test}_images`` with ``{train,val,test}_labels``
* DICOM folder: ``*.dcm`` (or extension-less Part-10 files), patient and study from the tags

Loaders do not open images: a missing or broken file is found and reported by ``prepare``.
"""

from __future__ import annotations

import csv
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from xrayssl.config.data import DEFAULT_LABEL_MAP
from xrayssl.data import aihub
from xrayssl.data.checks import DataWarning, drop_duplicates
from xrayssl.data.dicom import is_dicom_file, read_dicom_header
from xrayssl.data.io import IMAGE_SUFFIXES, UnreadableImageError
from xrayssl.data.mura import MURA_DIR, load_mura, normalise_body_parts
from xrayssl.data.records import Record
from xrayssl.errors import XraySSLError

SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "val": "valid",
    "valid": "valid",
    "validation": "valid",
    "test": "test",
    "testing": "test",
}
MANIFEST_NAMES = ("manifest.csv", "labels.csv")
MANIFEST_COLUMNS = ("path", "label", "body_part", "patient_id", "study_id", "split")
SOURCE_KINDS = ("mura", "aihub", "folders", "manifest", "npz", "dicom")
DICOM_SUFFIXES = (".dcm", ".dicom")


def _label_of(name: str, label_map: dict[str, int], where: str) -> int:
    key = name.strip().lower()
    if key in label_map:
        return label_map[key]
    raise XraySSLError(
        f"{where}: unknown label {name!r}; known labels: "
        f"{', '.join(f'{k}={v}' for k, v in sorted(label_map.items()))} "
        "(map names with --label-map, e.g. --label-map normal=0,abnormal=1)"
    )


def _split_of(name: str | None, where: str) -> str | None:
    if name is None or not name.strip():
        return None
    key = name.strip().lower()
    if key not in SPLIT_ALIASES:
        raise XraySSLError(
            f"{where}: unknown split {name!r}; allowed values: {', '.join(sorted(SPLIT_ALIASES))}"
        )
    return SPLIT_ALIASES[key]


def _image_files(folder: Path) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        files += [
            Path(dirpath, name)
            for name in sorted(filenames)
            if name.lower().endswith(IMAGE_SUFFIXES) and not name.startswith(".")
        ]
    return files


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


# ---------------------------------------------------------------- class folders


def load_class_folders(
    root: Path | str, label_map: dict[str, int] | None = None, body_part: str = "unknown"
) -> list[Record]:
    """``root/[<split>/]<label>/**/<image>``. Each file stem is its own patient and study.

    Use a CSV manifest when several images belong to one patient: patient-level splits can
    only keep images of one patient together when they know who is who.
    """
    root = Path(root).expanduser().absolute()
    label_map = label_map if label_map is not None else dict(DEFAULT_LABEL_MAP)
    top = _subfolders(root) if root.is_dir() else []
    has_splits = bool(top) and all(p.name.lower() in SPLIT_ALIASES for p in top)
    groups = (
        [(SPLIT_ALIASES[s.name.lower()], label) for s in top for label in _subfolders(s)]
        if has_splits
        else [(None, label) for label in top]
    )
    records = []
    for split, label_dir in groups:
        label = _label_of(label_dir.name, label_map, f"class folder {label_dir}")
        for file in _image_files(label_dir):
            rel = file.relative_to(root).with_suffix("").as_posix()
            records.append(Record(
                path=str(file), label=label, body_part=body_part, patient_id=file.stem,
                study_id=rel, split=split, source="folders",
            ))
    if not records:
        raise XraySSLError(
            f"no images found in {root}: expected class folders like "
            f"{root}/[train|valid/]normal|abnormal/*.png ({', '.join(IMAGE_SUFFIXES)})"
        )
    return records


# ---------------------------------------------------------------- CSV manifest


def load_manifest(
    csv_path: Path | str, base: Path | None = None, label_map: dict[str, int] | None = None
) -> list[Record]:
    """A CSV with a header; ``path`` and ``label`` are required, other known columns optional.

    Labels may be 0/1, empty (unknown) or names from ``label_map``. Relative paths are taken
    from ``base`` (default: the CSV's folder). Duplicate paths are dropped with a warning.
    """
    csv_path = Path(csv_path).expanduser().absolute()
    base = base or csv_path.parent
    label_map = label_map if label_map is not None else dict(DEFAULT_LABEL_MAP)
    names = {**label_map, "0": 0, "1": 1}
    try:
        handle = csv_path.open(newline="", encoding="utf-8-sig")
    except OSError as err:
        raise XraySSLError(f"cannot read manifest {csv_path}: {err.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        columns = [c.strip() for c in reader.fieldnames or []]
        missing = [c for c in ("path", "label") if c not in columns]
        if missing:
            raise XraySSLError(
                f"{csv_path}: missing column(s) {', '.join(missing)}; the header has "
                f"{', '.join(columns) or 'nothing'}; known columns: {', '.join(MANIFEST_COLUMNS)}"
            )
        records = []
        for line, raw in enumerate(reader, start=2):
            row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
            where = f"{csv_path}, line {line}"
            if not row["path"]:
                raise XraySSLError(f"{where}: empty path")
            path = Path(row["path"])
            path = path if path.is_absolute() else base / path
            label = None if row["label"] == "" else _label_of(row["label"], names, where)
            records.append(Record(
                path=str(path),
                label=label,
                body_part=(row.get("body_part") or "unknown").lower(),
                patient_id=row.get("patient_id") or path.stem,
                study_id=row.get("study_id") or str(Path(row["path"]).with_suffix("")),
                split=_split_of(row.get("split"), where),
                source="manifest",
            ))
    if not records:
        raise XraySSLError(f"{csv_path} lists no images (only a header)")
    kept, dropped = drop_duplicates(records)
    if dropped:
        warnings.warn(
            f"{csv_path}: dropped {len(dropped)} duplicate row(s) (same path listed again)",
            DataWarning,
            stacklevel=2,
        )
    return kept


def _manifest_in(folder: Path) -> Path | None:
    for name in MANIFEST_NAMES:
        candidate = folder / name
        if candidate.is_file():
            with candidate.open(newline="", encoding="utf-8-sig") as handle:
                header = next(csv.reader(handle), [])
            if "path" in [c.strip() for c in header]:
                return candidate
    return None


# ---------------------------------------------------------------- MedMNIST .npz


def load_npz(path: Path | str, label_map: dict[str, int] | None = None) -> list[Record]:
    """MedMNIST-style arrays: ``<split>_images`` (N, H, W[, C]) and ``<split>_labels`` (N, 1).

    Each image is its own patient (MedMNIST publishes no patient ids). Labels other than
    0/1 need ``label_map`` entries such as ``{"2": 1}``.
    """
    path = Path(path).expanduser().absolute()
    try:
        archive = np.load(path)
    except (OSError, ValueError) as err:
        raise XraySSLError(f"{path} is not a readable .npz file ({err})") from None
    records = []
    with archive:
        image_keys = sorted(k for k in archive.files if k.endswith("_images"))
        if not image_keys:
            raise XraySSLError(
                f"{path} holds no '<split>_images' arrays (it has: {', '.join(archive.files)})"
            )
        names = {**(label_map or {}), "0": 0, "1": 1}
        for key in image_keys:
            prefix = key[: -len("_images")]
            split = SPLIT_ALIASES.get(prefix)
            count = archive[key].shape[0]
            labels_key = f"{prefix}_labels"
            labels = (
                archive[labels_key].reshape(count, -1)[:, 0]
                if labels_key in archive.files
                else None
            )
            for i in range(count):
                label = None
                if labels is not None:
                    label = _label_of(str(int(labels[i])), names, f"{path} {labels_key}[{i}]")
                records.append(Record(
                    path=f"{path}#{key}/{i}", label=label, patient_id=f"{prefix}-{i}",
                    study_id=f"{prefix}-{i}", split=split, source="npz",
                ))
    if not records:
        raise XraySSLError(f"{path} holds no images")
    return records


# ---------------------------------------------------------------- DICOM folder


def _dicom_files(root: Path) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            file = Path(dirpath, name)
            if name.startswith("."):
                continue
            if name.lower().endswith(DICOM_SUFFIXES) or (
                "." not in name and is_dicom_file(file)
            ):
                files.append(file)
    return files


def load_dicom_folder(root: Path | str, label_map: dict[str, int] | None = None) -> list[Record]:
    """Every DICOM file below ``root``; patient/study/body part from the tags.

    The label comes from the nearest enclosing folder named in ``label_map`` (else unknown),
    the split from an enclosing folder named like a split.
    """
    root = Path(root).expanduser().absolute()
    label_map = label_map if label_map is not None else dict(DEFAULT_LABEL_MAP)
    records = []
    for file in _dicom_files(root):
        folders = [p.lower() for p in file.relative_to(root).parts[:-1]]
        label = next((label_map[f] for f in reversed(folders) if f in label_map), None)
        split = next((SPLIT_ALIASES[f] for f in reversed(folders) if f in SPLIT_ALIASES), None)
        patient, study, part = file.stem, file.stem, "unknown"
        try:
            header = read_dicom_header(file)
            patient = str(getattr(header, "PatientID", "") or patient)
            study = str(getattr(header, "StudyInstanceUID", "") or study)
            part = str(getattr(header, "BodyPartExamined", "") or part).lower()
        except UnreadableImageError:
            pass  # prepare reports the file as unreadable, with its reason
        records.append(Record(
            path=str(file), label=label, body_part=part, patient_id=patient,
            study_id=study, split=split, source="dicom",
        ))
    if not records:
        raise XraySSLError(f"no DICOM files (*.dcm) found in {root}")
    return records


# ---------------------------------------------------------------- auto-detect


def detect_source(path: Path) -> str:
    """Which loader reads ``path``: one of SOURCE_KINDS."""
    if not path.exists():
        raise XraySSLError(f"source not found: {path}")
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".npz":
            return "npz"
        if suffix == ".csv":
            return "manifest"
        raise XraySSLError(
            f"{path}: a source file must be a .csv manifest or a MedMNIST .npz; "
            "otherwise point at a folder"
        )
    if (path / MURA_DIR).is_dir() or path.name == MURA_DIR:
        return "mura"
    if aihub.detect(path):
        return "aihub"
    if _manifest_in(path) is not None:
        return "manifest"
    for dirpath, _dirnames, filenames in os.walk(path):
        for name in filenames:
            if name.lower().endswith(DICOM_SUFFIXES):
                return "dicom"
            if name.lower().endswith(IMAGE_SUFFIXES):
                return "folders"
            if "." not in name and is_dicom_file(Path(dirpath, name)):
                return "dicom"
    raise XraySSLError(
        f"no images found in {path} (looked for {', '.join(IMAGE_SUFFIXES)} files, "
        f"a {MURA_DIR}/ tree, {' or '.join(MANIFEST_NAMES)})"
    )


def filter_body_parts(records: list[Record], body_parts: Sequence[str] | None) -> list[Record]:
    if body_parts is None:
        return records
    present = sorted({r.body_part for r in records})
    wanted = normalise_body_parts(body_parts, valid=present)
    assert wanted is not None
    return [r for r in records if r.body_part in wanted]


def load_source(
    path: Path | str,
    *,
    kind: str | None = None,
    label_map: dict[str, int] | None = None,
    body_parts: Sequence[str] | None = None,
) -> list[Record]:
    """Records from any supported source; ``kind`` forces a loader (see SOURCE_KINDS)."""
    path = Path(path).expanduser().absolute()
    if kind is not None and kind not in SOURCE_KINDS:
        raise XraySSLError(f"unknown source kind {kind!r}; allowed: {', '.join(SOURCE_KINDS)}")
    kind = kind or detect_source(path)
    if kind == "mura":
        return load_mura(path, body_parts=body_parts)
    if kind == "aihub":
        return aihub.load_aihub(path, body_parts=body_parts)
    if kind == "manifest":
        manifest = path if path.is_file() else _manifest_in(path)
        if manifest is None:
            raise XraySSLError(f"{path}: no {' or '.join(MANIFEST_NAMES)} with a 'path' column")
        records = load_manifest(manifest, label_map=label_map)
    elif kind == "npz":
        records = load_npz(path, label_map=label_map)
    elif kind == "dicom":
        records = load_dicom_folder(path, label_map=label_map)
    else:
        records = load_class_folders(path, label_map=label_map)
    return filter_body_parts(records, body_parts)
