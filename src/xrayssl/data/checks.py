"""Checks on a list of records that warn or fail before any image is decoded."""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Sequence

from xrayssl.data.records import Record


class DataWarning(UserWarning):
    """Something in the data a user should know about, though work can go on."""


def drop_duplicates(records: Sequence[Record]) -> tuple[list[Record], list[Record]]:
    """Keep the first record of every path; return (kept, dropped duplicates)."""
    seen: set[str] = set()
    kept: list[Record] = []
    dropped: list[Record] = []
    for record in records:
        if record.path in seen:
            dropped.append(record)
        else:
            seen.add(record.path)
            kept.append(record)
    return kept, dropped


def single_class_body_parts(records: Sequence[Record]) -> dict[str, set[int]]:
    """Body parts whose labelled records carry only one class: {part: {that class}}."""
    classes: dict[str, set[int]] = defaultdict(set)
    for record in records:
        if record.label is not None:
            classes[record.body_part].add(record.label)
    return {part: labels for part, labels in classes.items() if len(labels) == 1}


def warn_single_class(records: Sequence[Record]) -> list[str]:
    """Warn for each body part with one class only (a linear probe there needs both)."""
    messages = []
    for part, labels in sorted(single_class_body_parts(records).items()):
        only = "abnormal (1)" if labels == {1} else "normal (0)"
        count = sum(1 for r in records if r.body_part == part and r.label is not None)
        message = (
            f"body part {part!r} has only {only} labels ({count} images): a probe on it "
            "needs both classes; add the other class or leave this body part out"
        )
        warnings.warn(message, DataWarning, stacklevel=2)
        messages.append(message)
    return messages
