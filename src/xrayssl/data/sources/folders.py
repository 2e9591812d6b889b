"""Class folders: ``root/[<split>/]<label>/**/<image>`` with label names mapped to 0/1."""

from __future__ import annotations

from pathlib import Path

from xrayssl.config.data import DEFAULT_LABEL_MAP
from xrayssl.data.io import IMAGE_SUFFIXES
from xrayssl.data.records import Record
from xrayssl.data.sources.layout import (
    SOURCES,
    SPLIT_ALIASES,
    SourceLayout,
    first_file_kind,
    image_files,
    label_of,
    subfolders,
)
from xrayssl.errors import XraySSLError


def load_class_folders(
    root: Path | str, label_map: dict[str, int] | None = None, body_part: str = "unknown"
) -> list[Record]:
    """``root/[<split>/]<label>/**/<image>``. Each file stem is its own patient and study.

    Use a CSV manifest when several images belong to one patient: patient-level splits can
    only keep images of one patient together when they know who is who.
    """
    root = Path(root).expanduser().resolve()
    label_map = label_map if label_map is not None else dict(DEFAULT_LABEL_MAP)
    top = subfolders(root) if root.is_dir() else []
    has_splits = bool(top) and all(p.name.lower() in SPLIT_ALIASES for p in top)
    groups = (
        [(SPLIT_ALIASES[s.name.lower()], label) for s in top for label in subfolders(s)]
        if has_splits
        else [(None, label) for label in top]
    )
    records = []
    for split, label_dir in groups:
        label = label_of(label_dir.name, label_map, f"class folder {label_dir}")
        for file in image_files(label_dir):
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


@SOURCES.register()
class ClassFolders(SourceLayout):
    name = "folders"
    priority = 90  # the catch-all: any folder whose first image file is not DICOM

    @staticmethod
    def detect(path: Path) -> bool:
        return path.is_dir() and first_file_kind(path) == "image"

    @staticmethod
    def read(path: Path, label_map: dict[str, int] | None) -> list[Record]:
        return load_class_folders(path, label_map=label_map)
