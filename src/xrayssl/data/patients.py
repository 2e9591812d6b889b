"""Who is who: patient ids from a file-name pattern, and a word when they are only guessed.

Class folders without ``labels.csv`` (and manifests without a ``patient_id`` column) make every
file its own patient. Two images of one patient (a left and a right knee, ``9001234L.png`` and
``9001234R.png``) can then fall on both sides of a split, and a test split that shares patients
with train flatters every figure. ``--patient-id REGEX`` names the patient in each file stem.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path

from xrayssl.data.records import Record
from xrayssl.errors import XraySSLError


def stem_of(record: Record) -> str:
    return Path(record.path.split("#", 1)[0]).stem  # an array source's "file.npz#key/i"


def with_patient_pattern(records: Sequence[Record], pattern: str) -> list[Record]:
    """Each record's patient from ``pattern`` searched in its file stem: the first group when
    the pattern has one, else the whole match."""
    try:
        compiled = re.compile(pattern)
    except re.error as err:
        raise XraySSLError(f"--patient-id {pattern!r} is not a regular expression ({err})") \
            from None
    out = []
    for record in records:
        stem = stem_of(record)
        match = compiled.search(stem)
        if match is None:
            raise XraySSLError(
                f"--patient-id {pattern!r} does not match the file name {stem!r} ({record.path}); "
                "give a pattern every file name matches, e.g. '^(\\d+)[LR]?$' for 9001234L.png")
        patient = match.group(1) if compiled.groups else match.group(0)
        if not patient:
            raise XraySSLError(f"--patient-id {pattern!r} gives an empty patient id for {stem!r}")
        out.append(dataclasses.replace(record, patient_id=patient))
    return out


def guessed_patients_note(records: Sequence[Record]) -> str | None:
    """A warning when the patient of every image is only its own file name, else None."""
    labelled = [r for r in records if r.label is not None]
    if not labelled or any(r.patient_id != stem_of(r) for r in labelled):
        return None
    if len({r.patient_id for r in labelled}) < len(labelled):
        return None  # file names repeat: they already group images
    return (f"no patient ids: each of the {len(labelled)} images is taken as its own patient, so "
            "two images of one patient (e.g. 9001234L.png and 9001234R.png) can fall on both "
            "sides of a split; give --patient-id REGEX to read the patient from the file name "
            "(e.g. '^(\\d+)[LR]$'), or a labels.csv with a patient_id column")
