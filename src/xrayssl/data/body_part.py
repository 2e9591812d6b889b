"""A body part for sources that name none (class folders, MedMNIST, most manifests).

Such records carry ``"unknown"``; ``--body-part knee`` (or ``data.body_part: knee`` in a study
config) names them, so tables, the report and ``--body-parts`` filters read ``knee``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from xrayssl.config.data import UNKNOWN_BODY_PART, check_body_part_name
from xrayssl.data.records import BODY_PARTS, Record
from xrayssl.errors import XraySSLError

UNKNOWN = UNKNOWN_BODY_PART



def name_body_part(records: Sequence[Record], name: str, source: Path | str) -> list[Record]:
    """``records`` with every unknown body part set to ``name``; an error if none is unknown
    (the source names its own body parts, which this would silently contradict)."""
    name = check_body_part_name(name)
    if records and all(r.body_part != UNKNOWN for r in records):
        parts = sorted({r.body_part for r in records})
        raise XraySSLError(
            f"--body-part {name}: {source} already names the body part of every image "
            f"({', '.join(parts[:8])}); --body-part is for sources without one. Use "
            "--body-parts to keep only some of them"
        )
    return [dataclasses.replace(r, body_part=name) if r.body_part == UNKNOWN else r
            for r in records]


def body_part_from_folder(folder: str) -> str:
    """``XR_ELBOW`` -> ``elbow``."""
    name = folder.lower()
    return name[3:] if name.startswith("xr_") else name


def normalise_body_parts(
    body_parts: Sequence[str] | None, valid: Sequence[str] = BODY_PARTS
) -> list[str] | None:
    """Accept ``elbow``, ``Elbow`` or ``XR_ELBOW``; unknown names fail with the valid ones."""
    if body_parts is None:
        return None
    names = [body_part_from_folder(part.strip()) for part in body_parts if part.strip()]
    unknown = sorted(set(names) - set(valid))
    if unknown:
        raise XraySSLError(
            f"unknown body part {', '.join(repr(u) for u in unknown)}; "
            f"valid body parts: {', '.join(valid)}"
        )
    return names
