"""MedMNIST ``.npz``: ``{train,val,test}_images`` with ``{train,val,test}_labels``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xrayssl.data.records import Record
from xrayssl.data.sources.layout import (
    SOURCES,
    SPLIT_ALIASES,
    SourceLayout,
    label_of,
)
from xrayssl.errors import XraySSLError


def load_npz(path: Path | str, label_map: dict[str, int] | None = None) -> list[Record]:
    """MedMNIST-style arrays: ``<split>_images`` (N, H, W[, C]) and ``<split>_labels`` (N, 1).

    Each image is its own patient (MedMNIST publishes no patient ids). Labels other than
    0/1 need ``label_map`` entries such as ``{"2": 1}``.
    """
    path = Path(path).expanduser().resolve()
    try:
        archive = np.load(path)
    except (OSError, ValueError) as err:
        raise XraySSLError(f"{path} is not a readable .npz file ({err})") from None
    records = []
    with archive:
        image_keys = sorted(k for k in archive.files if k.endswith("_images"))
        if not image_keys:
            raise XraySSLError(
                f"{path} holds no '<split>_images' arrays (it has: {', '.join(archive.files)})"
            )
        names = {**(label_map or {}), "0": 0, "1": 1}
        for key in image_keys:
            prefix = key[: -len("_images")]
            split = SPLIT_ALIASES.get(prefix)
            count = archive[key].shape[0]
            labels_key = f"{prefix}_labels"
            labels = None
            if labels_key in archive.files:
                raw = archive[labels_key]
                if raw.shape[0] != count:
                    raise XraySSLError(
                        f"{path}: {labels_key} has {raw.shape[0]} labels for {count} images in "
                        f"{key}; each image needs one label (write the .npz again with "
                        "aligned arrays)")
                labels = raw.reshape(count, -1)[:, 0]
            for i in range(count):
                label = None
                if labels is not None:
                    label = label_of(str(int(labels[i])), names, f"{path} {labels_key}[{i}]")
                records.append(Record(
                    path=f"{path}#{key}/{i}", label=label, patient_id=f"{prefix}-{i}",
                    study_id=f"{prefix}-{i}", split=split, source="npz",
                ))
    if not records:
        raise XraySSLError(f"{path} holds no images")
    return records


@SOURCES.register()
class MedMNIST(SourceLayout):
    name = "npz"
    priority = 40

    @staticmethod
    def detect(path: Path) -> bool:
        return path.is_file() and path.suffix.lower() == ".npz"

    @staticmethod
    def read(path: Path, label_map: dict[str, int] | None) -> list[Record]:
        return load_npz(path, label_map=label_map)
