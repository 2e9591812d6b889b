"""DICOM folder: ``*.dcm`` (or extension-less Part-10 files), patient and study from the tags."""

from __future__ import annotations

import os
from pathlib import Path

from xrayssl.config.data import DEFAULT_LABEL_MAP
from xrayssl.data.dicom import is_dicom_file, read_dicom_header
from xrayssl.data.gray import UnreadableImageError
from xrayssl.data.records import Record
from xrayssl.data.sources.layout import (
    DICOM_SUFFIXES,
    SOURCES,
    SPLIT_ALIASES,
    SourceLayout,
    first_file_kind,
)
from xrayssl.errors import XraySSLError


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
    root = Path(root).expanduser().resolve()
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


@SOURCES.register()
class DicomFolder(SourceLayout):
    name = "dicom"
    priority = 80

    @staticmethod
    def detect(path: Path) -> bool:
        return path.is_dir() and first_file_kind(path) == "dicom"

    @staticmethod
    def read(path: Path, label_map: dict[str, int] | None) -> list[Record]:
        return load_dicom_folder(path, label_map=label_map)
