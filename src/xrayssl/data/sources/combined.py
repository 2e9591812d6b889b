"""Several sources -> one list of records (MURA and AI Hub prepared into one cache).

Records keep their ``source`` (``mura``, ``aihub``, ...). Body parts of different sources stay
apart: MURA's seven and AI Hub's five share no name, and should two sources of different kinds
name the same part, both are renamed ``<source>_<part>`` (with a warning) instead of merging.
A study or probe then reports each body part on its own, exactly as for one source.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from xrayssl.data.body_part import name_body_part
from xrayssl.data.checks import DataWarning
from xrayssl.data.patients import guessed_patients_note, with_patient_pattern
from xrayssl.data.records import Record
from xrayssl.data.sources import SOURCES, detect_source, filter_body_parts
from xrayssl.errors import XraySSLError


@dataclass
class SourceListing:
    """Records of every source, and the entries their loaders could not use."""

    records: list[Record] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    counts: dict[str, int] = field(default_factory=dict)  # source path -> images listed

    def sources(self) -> dict[str, list[str]]:
        """Source kind -> its body parts, sorted."""
        parts: dict[str, set[str]] = {}
        for record in self.records:
            parts.setdefault(record.source, set()).add(record.body_part)
        return {source: sorted(names) for source, names in sorted(parts.items())}


def _one_source(
    path: Path, kind: str | None, label_map: dict[str, int] | None,
    body_parts: Sequence[str] | None, body_part: str | None,
) -> tuple[list[Record], list[tuple[str, str]]]:
    layout = SOURCES.get(kind if kind is not None else detect_source(path))
    if body_part is None:
        return layout.scan(path, label_map=label_map, body_parts=body_parts)
    records, skipped = layout.scan(path, label_map=label_map)
    return filter_body_parts(name_body_part(records, body_part, path), body_parts), skipped


def keep_body_parts_apart(records: list[Record]) -> list[Record]:
    """Rename a body part that two sources of different kinds share to ``<source>_<part>``."""
    owners: dict[str, set[str]] = {}
    for record in records:
        owners.setdefault(record.body_part, set()).add(record.source)
    shared = sorted(part for part, sources in owners.items() if len(sources) > 1)
    if not shared:
        return records
    warnings.warn(
        f"body part(s) {', '.join(shared)} come from several sources "
        f"({', '.join(sorted(set().union(*(owners[p] for p in shared))))}); they are kept "
        "apart as <source>_<part>",
        DataWarning, stacklevel=3,
    )
    return [
        Record(**{**r.to_dict(), "body_part": f"{r.source}_{r.body_part}"})
        if r.body_part in shared else r
        for r in records
    ]


def load_sources(
    paths: Sequence[Path | str],
    *,
    kind: str | None = None,
    label_map: dict[str, int] | None = None,
    body_parts: Sequence[str] | None = None,
    body_part: str | None = None,
    patient_id: str | None = None,
) -> SourceListing:
    """Records from every path (each detected on its own unless ``kind`` forces one);
    ``body_part`` names the images of sources that name none (as in ``load_source``);
    ``patient_id`` is a pattern that reads each image's patient from its file name. Patients
    that are only file names are announced with a DataWarning."""
    if not paths:
        raise XraySSLError("give at least one source folder or file")
    resolved = [Path(p).expanduser().resolve() for p in paths]
    if len(set(resolved)) < len(resolved):
        raise XraySSLError(f"a source is given twice: {', '.join(map(str, resolved))}")
    listing = SourceListing()
    single = len(resolved) == 1
    for path in resolved:
        # One source filters its own body parts (its loader names the valid ones); several
        # are filtered together below, since a part named may belong to either.
        records, skipped = _one_source(path, kind, label_map, body_parts if single else None,
                                       body_part)
        listing.records += records
        listing.skipped += skipped
        listing.counts[str(path)] = len(records)
    if not single:
        listing.records = filter_body_parts(keep_body_parts_apart(listing.records), body_parts)
    if patient_id is not None:
        listing.records = with_patient_pattern(listing.records, patient_id)
    else:
        note = guessed_patients_note(listing.records)
        if note is not None:
            warnings.warn(note, DataWarning, stacklevel=2)
    return listing
