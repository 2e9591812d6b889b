"""A body part for sources that name none (class folders, MedMNIST, most manifests).

Such records carry ``"unknown"``; ``--body-part knee`` (or ``data.body_part: knee`` in a study
config) names them, so tables, the report and ``--body-parts`` filters read ``knee``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path

from xrayssl.data.records import Record
from xrayssl.errors import XraySSLError

UNKNOWN = "unknown"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


def check_body_part_name(name: str, option: str = "--body-part") -> str:
    """``" Knee "`` -> ``"knee"``; letters, digits, ``_`` and ``-`` only."""
    cleaned = name.strip().lower()
    if not _NAME.fullmatch(cleaned) or cleaned == UNKNOWN:
        raise XraySSLError(
            f"{option} {name!r}: give a name of letters, digits, '_' or '-', e.g. knee or chest"
        )
    return cleaned


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
