"""One Record per image: the common currency between loaders, prepare, splits and probes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BODY_PARTS = ("elbow", "finger", "forearm", "hand", "humerus", "shoulder", "wrist")
# The protocol's splits: fit on train, select on val, report once on test.
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Record:
    """An image and what is known about it.

    ``label`` is 1 for abnormal, 0 for normal, None when unknown. ``patient_id`` groups
    images for patient-level splits; ``study_id`` groups the views of one study (MURA's
    study-level metrics). ``split`` is what the source says (None when it has none) until
    :func:`xrayssl.data.splits.protocol_splits` turns it into ``train``/``val``/``test`` and
    keeps the source's word in ``source_split``.
    ``path`` may be a file path or, for array sources such as MedMNIST, ``file.npz#key/index``.
    ``mask_path`` points at a lesion mask when one exists (synthetic data). ``condition``
    names the finding behind the label when the source states it (AI Hub: ``Normal``,
    ``Hallux_Valgus``, ...), for per-condition metrics; empty otherwise.
    """

    path: str
    label: int | None
    body_part: str = "unknown"
    patient_id: str = ""
    study_id: str = ""
    split: str | None = None
    source: str = ""
    mask_path: str | None = None
    condition: str = ""
    source_split: str | None = None

    def to_dict(self) -> dict[str, Any]:
        # Every field is an immutable scalar, so a shallow copy equals dataclasses.asdict,
        # which deep-copies and costs ~20x more (seconds on a 40,000-image index).
        row = {name: getattr(self, name) for name in self.__dataclass_fields__}
        if not row["condition"]:
            # Left out when empty: the cache hash of every source without conditions stays
            # what it was, so caches prepared before the field existed are still reused.
            del row["condition"]
        return row

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> Record:
        fields: dict[str, Any] = {k: row.get(k) for k in cls.__dataclass_fields__}
        label = fields["label"]
        fields["label"] = None if label in (None, "", "None") else int(label)
        for key in ("mask_path", "split", "source_split"):
            if fields[key] in ("", "None"):
                fields[key] = None
        for key in ("body_part", "patient_id", "study_id", "source", "condition"):
            if fields[key] is None:
                fields[key] = "" if key != "body_part" else "unknown"
            else:
                fields[key] = str(fields[key])
        return cls(**fields)
