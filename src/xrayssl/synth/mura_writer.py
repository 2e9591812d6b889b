"""The MURA v1.1 layout, to the byte: folders, file names and the four headerless CSVs.

``MURA-v1.1/{train,valid}/XR_<PART>/patientNNNNN/studyN_{positive,negative}/imageN.png``;
``{split}_image_paths.csv`` lists image paths, ``{split}_labeled_studies.csv`` lists study
folders (with their trailing slash) and the study label, ``path/,1``. Masks go to
``MURA-v1.1-masks/`` under the same relative paths; ``MURA-v1.1/synth_meta.csv`` says what
was drawn where.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from xrayssl.atomic import atomic_write_text

DATASET_DIR = "MURA-v1.1"
MASKS_DIR = "MURA-v1.1-masks"
META_FILE = "synth_meta.csv"
SPLITS = ("train", "valid")


def study_dir(split: str, part: str, patient: int, study: int, positive: bool) -> str:
    label = "positive" if positive else "negative"
    return (f"{DATASET_DIR}/{split}/XR_{part.upper()}/patient{patient:05d}/"
            f"study{study}_{label}/")


def image_path(split: str, part: str, patient: int, study: int, positive: bool,
               view: int) -> str:
    return f"{study_dir(split, part, patient, study, positive)}image{view}.png"


def mask_path_for(image_rel: str) -> str:
    """``MURA-v1.1/...`` -> ``MURA-v1.1-masks/...`` (same relative path below the root)."""
    return MASKS_DIR + image_rel[len(DATASET_DIR):]


@dataclass(frozen=True)
class MetaRow:
    """One line of synth_meta.csv: everything known about one image."""

    path: str
    split: str
    body_part: str
    patient_id: str
    study: int
    view: int
    view_name: str
    label: int
    kind: str  # none | fracture | hardware | lytic | hairline | periosteal
    difficulty: float  # the knob as requested
    strength: float  # this lesion's conspicuity after per-study jitter (1 obvious, 0 subtle)
    bone: str
    laterality: str
    height: int
    width: int
    mask_path: str
    mask_pixels: int


def _csv_text(rows: Sequence[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(rows)
    return buffer.getvalue()


def write_index(root: Path, rows: Sequence[MetaRow]) -> None:
    """The four MURA CSVs (headerless, ``\\n`` line ends) and synth_meta.csv (with header)."""
    ordered = sorted(rows, key=lambda r: (r.split, int(r.patient_id[7:]), r.study, r.view))
    for split in SPLITS:
        in_split = [r for r in ordered if r.split == split]
        atomic_write_text(root / DATASET_DIR / f"{split}_image_paths.csv",
                          _csv_text([[r.path] for r in in_split]))
        studies: dict[str, int] = {}
        for r in in_split:
            studies.setdefault(r.path.rsplit("/", 1)[0] + "/", r.label)
        atomic_write_text(root / DATASET_DIR / f"{split}_labeled_studies.csv",
                          _csv_text([[path, label] for path, label in studies.items()]))
    header = [f.name for f in fields(MetaRow)]
    body = [[asdict(r)[name] for name in header] for r in ordered]
    atomic_write_text(root / DATASET_DIR / META_FILE, _csv_text([header, *body]))
