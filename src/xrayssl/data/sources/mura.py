"""MURA v1.1 (Stanford musculoskeletal radiographs) -> records.

Point at the folder that holds ``MURA-v1.1/``. The release ships four headerless CSVs::

    train_image_paths.csv      MURA-v1.1/train/XR_ELBOW/patient00011/study1_negative/image1.png
    train_labeled_studies.csv  MURA-v1.1/train/XR_ELBOW/patient00011/study1_negative/,0

(and ``valid_*``). When the CSVs are missing the ``studyN_positive|negative`` folders are
walked instead. Lesion masks, when present, sit at the same relative path below
``MURA-v1.1-masks/``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

from xrayssl.data.body_part import body_part_from_folder, normalise_body_parts
from xrayssl.data.checks import DataWarning
from xrayssl.data.io import IMAGE_SUFFIXES
from xrayssl.data.records import Record
from xrayssl.data.sources.layout import SOURCES, SourceLayout
from xrayssl.errors import XraySSLError

MURA_DIR = "MURA-v1.1"
MASKS_DIR = "MURA-v1.1-masks"
MURA_SPLITS = ("train", "valid")
SOURCE = "mura"


def _label_from_study_folder(study: str) -> int | None:
    if study.endswith("_positive"):
        return 1
    if study.endswith("_negative"):
        return 0
    return None


def record_from_relative_path(
    relative: str, root: str, labels: dict[str, int] | None = None
) -> Record | None:
    """``MURA-v1.1/<split>/XR_<PART>/<patient>/<study>/<image>`` -> Record (None if malformed)."""
    parts = relative.split("/")
    if len(parts) != 6 or parts[0] != MURA_DIR:
        return None
    _, split, part_folder, patient, study, _image = parts
    study_key = "/".join(parts[:5])
    label = labels.get(study_key) if labels is not None else None
    if label is None:
        label = _label_from_study_folder(study)
    return Record(
        path=f"{root}/{relative}" if root else relative,
        label=label,
        body_part=body_part_from_folder(part_folder),
        patient_id=patient,
        study_id=f"{split}/{part_folder}/{patient}/{study}",
        split=split,
        source=SOURCE,
    )


def _read_lines(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8-sig")
    return [line.strip() for line in text.splitlines() if line.strip()]


def read_study_labels(csv_path: Path) -> dict[str, int]:
    """``labeled_studies.csv`` -> {``MURA-v1.1/train/XR_X/patientN/studyM_positive``: 1}."""
    labels: dict[str, int] = {}
    for number, line in enumerate(_read_lines(csv_path), start=1):
        study, _, label = line.rpartition(",")
        if label.strip() not in ("0", "1"):
            raise XraySSLError(
                f"{csv_path}, line {number}: expected 'study_path/,0' or ',1', got {line!r}"
            )
        labels[study.strip().rstrip("/")] = int(label)
    return labels


def records_from_index(
    csv_dir: Path, root: Path | str, splits: Sequence[str] = MURA_SPLITS
) -> list[Record]:
    """Build records from the four index CSVs in ``csv_dir``; image files are not touched.

    ``root`` is the folder the CSV paths are relative to (the one holding ``MURA-v1.1/``).
    Duplicate rows are dropped with a warning; malformed rows fail naming file and line.
    """
    root_text = str(root).rstrip("/")
    records: list[Record] = []
    seen: set[str] = set()
    duplicates = 0
    for split in splits:
        images_csv = csv_dir / f"{split}_image_paths.csv"
        studies_csv = csv_dir / f"{split}_labeled_studies.csv"
        if not images_csv.is_file():
            continue
        labels = read_study_labels(studies_csv) if studies_csv.is_file() else {}
        for number, line in enumerate(_read_lines(images_csv), start=1):
            relative = line.split(",", 1)[0].strip()
            record = record_from_relative_path(relative, root_text, labels)
            if record is None:
                raise XraySSLError(
                    f"{images_csv}, line {number}: expected a path like "
                    f"'{MURA_DIR}/{split}/XR_ELBOW/patient00001/study1_positive/image1.png', "
                    f"got {line!r}"
                )
            if record.path in seen:
                duplicates += 1
                continue
            seen.add(record.path)
            records.append(record)
    if duplicates:
        warnings.warn(
            f"{csv_dir}: dropped {duplicates} duplicate image row(s) from the MURA index",
            DataWarning,
            stacklevel=2,
        )
    return records


def _walk_tree(root: Path) -> list[Record]:
    """Fallback without CSVs: every image under ``studyN_positive|negative`` folders."""
    base = root / MURA_DIR
    records: list[Record] = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for name in sorted(filenames):
            if not name.lower().endswith(IMAGE_SUFFIXES) or name.startswith("."):
                continue
            relative = Path(dirpath, name).relative_to(root).as_posix()
            record = record_from_relative_path(relative, str(root))
            if record is not None and record.label is not None:
                records.append(record)
    return records


def find_mura_root(path: Path) -> Path:
    """The folder holding ``MURA-v1.1/``; also accepts ``MURA-v1.1`` itself."""
    if (path / MURA_DIR).is_dir():
        return path
    if path.name == MURA_DIR and path.is_dir():
        return path.parent
    raise XraySSLError(
        f"{path} does not hold a {MURA_DIR}/ folder; point at the folder that contains it"
    )


def attach_masks(records: Iterable[Record], root: Path) -> list[Record]:
    """Set ``mask_path`` where ``<root>/MURA-v1.1-masks/<same path>`` exists."""
    records = list(records)
    masks_root = root / MASKS_DIR
    if not masks_root.is_dir():
        return records
    prefix = f"{root.as_posix().rstrip('/')}/{MURA_DIR}/"
    out: list[Record] = []
    for record in records:
        tail = record.path[len(prefix) :] if record.path.startswith(prefix) else None
        mask = masks_root / tail if tail is not None else None
        if mask is not None and mask.is_file():
            record = Record(**{**record.to_dict(), "mask_path": str(mask)})
        out.append(record)
    return out


def load_mura(root: Path | str, body_parts: Sequence[str] | None = None) -> list[Record]:
    """All MURA images below ``root`` as records, optionally only some body parts."""
    root = find_mura_root(Path(root).expanduser().resolve())
    wanted = normalise_body_parts(body_parts)
    csv_dir = root / MURA_DIR
    has_index = any((csv_dir / f"{split}_image_paths.csv").is_file() for split in MURA_SPLITS)
    records = records_from_index(csv_dir, root) if has_index else _walk_tree(root)
    if not records:
        raise XraySSLError(
            f"no MURA images found in {csv_dir} (no index CSVs and no "
            "studyN_positive|negative folders with images)"
        )
    if wanted is not None:
        records = [r for r in records if r.body_part in wanted]
        if not records:
            raise XraySSLError(f"{csv_dir} has no images of body part(s) {', '.join(wanted)}")
    return attach_masks(records, root)


@SOURCES.register()
class MuraTree(SourceLayout):
    name = "mura"
    priority = 10  # a MURA tree is also a tree of PNG folders: it must be asked first

    @staticmethod
    def detect(path: Path) -> bool:
        return path.is_dir() and ((path / MURA_DIR).is_dir() or path.name == MURA_DIR)

    @staticmethod
    def read(path: Path, label_map: dict[str, int] | None) -> list[Record]:
        # MURA's labels come from its study folders and CSVs, so label_map does not apply.
        return load_mura(path)

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        label_map: dict[str, int] | None = None,
        body_parts: Sequence[str] | None = None,
    ) -> list[Record]:
        return load_mura(path, body_parts=body_parts)  # names MURA's own body parts in errors
