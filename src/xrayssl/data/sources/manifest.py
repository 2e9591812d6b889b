"""CSV manifest: a header with ``path,label[,body_part,patient_id,study_id,split]``.

Paths are relative to the CSV. A folder holding ``labels.csv`` or ``manifest.csv`` with a
``path`` column is read through it, so the patient ids listed there are used.
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

from xrayssl.config.data import DEFAULT_LABEL_MAP
from xrayssl.data.checks import DataWarning, drop_duplicates
from xrayssl.data.records import Record
from xrayssl.data.sources.layout import (
    SOURCES,
    SourceLayout,
    label_of,
    split_of,
)
from xrayssl.errors import XraySSLError

MANIFEST_NAMES = ("manifest.csv", "labels.csv")
MANIFEST_COLUMNS = ("path", "label", "body_part", "patient_id", "study_id", "split")


def load_manifest(
    csv_path: Path | str, base: Path | None = None, label_map: dict[str, int] | None = None
) -> list[Record]:
    """A CSV with a header; ``path`` and ``label`` are required, other known columns optional.

    Labels may be 0/1, empty (unknown) or names from ``label_map``. Relative paths are taken
    from ``base`` (default: the CSV's folder). A path listed again with the same label is
    dropped with a warning; with another label it is an error naming both lines.
    """
    csv_path = Path(csv_path).expanduser().resolve()
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
        first_line: dict[str, tuple[int, int | None]] = {}  # path -> (line, label) first listed
        for line, raw in enumerate(reader, start=2):
            row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
            where = f"{csv_path}, line {line}"
            if not row["path"]:
                raise XraySSLError(f"{where}: empty path")
            path = Path(row["path"])
            path = path if path.is_absolute() else base / path
            label = None if row["label"] == "" else label_of(row["label"], names, where)
            earlier = first_line.setdefault(str(path), (line, label))
            if earlier[1] != label:
                raise XraySSLError(
                    f"{where}: {row['path']} is listed again with label {label} (line "
                    f"{earlier[0]} gives {earlier[1]}); an image has one label: fix or remove "
                    "one of the two lines")
            records.append(Record(
                path=str(path),
                label=label,
                body_part=(row.get("body_part") or "unknown").lower(),
                patient_id=row.get("patient_id") or path.stem,
                study_id=row.get("study_id") or str(Path(row["path"]).with_suffix("")),
                split=split_of(row.get("split"), where),
                source="manifest",
            ))
    if not records:
        raise XraySSLError(f"{csv_path} lists no images (only a header)")
    folder = csv_path.parent.resolve()
    outside = [r.path for r in records if not Path(r.path).resolve().is_relative_to(folder)]
    if outside:
        warnings.warn(
            f"{csv_path}: {len(outside)} of {len(records)} listed image(s) lie outside the "
            f"manifest's folder (first: {outside[0]}); they are read where they are, and moving "
            "the folder alone will not take them along",
            DataWarning, stacklevel=2,
        )
    kept, dropped = drop_duplicates(records)
    if dropped:
        warnings.warn(
            f"{csv_path}: dropped {len(dropped)} duplicate row(s) (same path listed again)",
            DataWarning,
            stacklevel=2,
        )
    return kept


def manifest_in(folder: Path) -> Path | None:
    for name in MANIFEST_NAMES:
        candidate = folder / name
        if candidate.is_file():
            with candidate.open(newline="", encoding="utf-8-sig") as handle:
                header = next(csv.reader(handle), [])
            if "path" in [c.strip() for c in header]:
                return candidate
    return None


@SOURCES.register()
class Manifest(SourceLayout):
    name = "manifest"
    priority = 30

    @staticmethod
    def detect(path: Path) -> bool:
        if path.is_file():
            return path.suffix.lower() == ".csv"
        return manifest_in(path) is not None

    @staticmethod
    def read(path: Path, label_map: dict[str, int] | None) -> list[Record]:
        manifest = path if path.is_file() else manifest_in(path)
        if manifest is None:
            raise XraySSLError(f"{path}: no {' or '.join(MANIFEST_NAMES)} with a 'path' column")
        return load_manifest(manifest, label_map=label_map)
