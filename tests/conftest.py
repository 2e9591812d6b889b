"""Shared fixtures: tiny data made on the fly, never read from the repository."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from xrayssl.data.cache import IMAGES_FILE, MASKS_FILE, PreparedCache, write_index
from xrayssl.data.records import Record

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

MakeCache = Callable[..., PreparedCache]


def build_signal_cache(
    root: Path,
    n: int = 64,
    size: int = 32,
    body_parts: tuple[str, ...] = ("elbow", "wrist"),
    seed: int = 0,
    with_masks: bool = True,
) -> PreparedCache:
    """A cache whose abnormal images carry a bright square (their mask): a learnable signal.

    Two images per study, two studies per patient, train/valid split by patient.
    """
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    images = np.lib.format.open_memmap(root / IMAGES_FILE, mode="w+", dtype=np.uint8,
                                       shape=(n, size, size))
    masks = np.zeros((n, size, size), dtype=np.uint8)
    records = []
    yy, xx = np.mgrid[:size, :size]
    for i in range(n):
        patient = i // 4
        study = i // 2
        label = study % 2
        img = 60 + 40 * np.exp(-((yy - size / 2) ** 2 + (xx - size / 2) ** 2) / (size**2 / 8))
        img = img + rng.normal(0, 12, (size, size))
        if label:
            s = size // 5
            y0, x0 = rng.integers(0, size - s, 2)
            img[y0:y0 + s, x0:x0 + s] += 90
            masks[i, y0:y0 + s, x0:x0 + s] = 255
        images[i] = np.clip(img, 0, 255).astype(np.uint8)
        records.append(Record(
            path=f"synthetic/p{patient:03d}/s{study}/img{i}.png",
            label=label,
            body_part=body_parts[patient % len(body_parts)],
            patient_id=f"p{patient:03d}",
            study_id=f"p{patient:03d}/s{study}",
            split="valid" if patient % 4 == 3 else "train",
            source="test",
            mask_path=f"masks/{i}.png" if with_masks else None,
        ))
    images.flush()
    del images
    if with_masks:
        np.save(root / MASKS_FILE, masks)
    write_index(root, records, size, {"size": size, "test": True}, f"test-{seed}")
    return PreparedCache.open(root)


@pytest.fixture
def make_cache(tmp_path: Path) -> MakeCache:
    counter = iter(range(1000))

    def make(**kwargs: object) -> PreparedCache:
        return build_signal_cache(tmp_path / f"cache{next(counter)}", **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent; the real-data checks need it")
    return SHARED_DATA
