"""The real MURA v1.1 index (no images): exact counts, no patient leaks, full-scale loading."""

from __future__ import annotations

import shutil
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from xrayssl.data.records import BODY_PARTS, Record
from xrayssl.data.sources.mura import MURA_DIR, load_mura, records_from_index
from xrayssl.data.splits import label_fraction, patient_split

pytestmark = pytest.mark.realdata

IMAGES, TRAIN_STUDIES, VALID_STUDIES = 40_005, 13_457, 1_199


def index_dir(shared_data: Path) -> Path:
    folder = shared_data / "mura-index"
    if not (folder / "train_image_paths.csv").is_file():
        pytest.skip(f"{folder} is absent; the MURA index checks need it")
    return folder


def study_lines(folder: Path, split: str) -> set[str]:
    lines = (folder / f"{split}_labeled_studies.csv").read_text().splitlines()
    return {line.rsplit(",", 1)[0].rstrip("/") for line in lines if line.strip()}


def check_counts(records: list[Record], folder: Path) -> None:
    assert len(records) == IMAGES
    studies = {s: {r.study_id for r in records if r.split == s} for s in ("train", "valid")}
    assert len(studies["train"]) == TRAIN_STUDIES
    assert len(studies["valid"]) == VALID_STUDIES
    for split in ("train", "valid"):
        # Every labelled study of the index, and nothing else, has images.
        assert {f"{MURA_DIR}/{s}" for s in studies[split]} == study_lines(folder, split)
    assert {r.body_part for r in records} == set(BODY_PARTS)
    assert all(r.label in (0, 1) for r in records)
    train_patients = {r.patient_id for r in records if r.split == "train"}
    valid_patients = {r.patient_id for r in records if r.split == "valid"}
    assert train_patients.isdisjoint(valid_patients)


def test_index_counts_and_official_split_has_no_patient_leak(shared_data: Path) -> None:
    folder = index_dir(shared_data)
    check_counts(records_from_index(folder, "/mura"), folder)


def test_index_splits_and_label_fractions_keep_patients_whole(shared_data: Path) -> None:
    records = [r for r in records_from_index(index_dir(shared_data), "/mura")
               if r.split == "train"]
    labels = np.array([r.label for r in records])
    groups = np.array([r.patient_id for r in records])
    train, valid = patient_split(labels, groups, valid_fraction=0.1, seed=0)
    assert len(train) + len(valid) == len(records)
    assert set(groups[train]).isdisjoint(groups[valid])
    assert abs(labels[valid].mean() - labels.mean()) < 0.02
    positions = np.arange(len(records))
    for fraction in (0.01, 0.1, 1.0):
        chosen = label_fraction(train, labels[train], groups[train], fraction, seed=0)
        picked = np.isin(positions, chosen)
        assert set(groups[picked]).isdisjoint(groups[~picked & np.isin(positions, train)])
        assert set(labels[picked]) == {0, 1}
        share = picked.sum() / len(train)
        assert abs(share - fraction) < 0.1 * fraction + 0.001
        assert abs(labels[picked].mean() - labels[train].mean()) < 0.05


@pytest.mark.slow
def test_generated_tree_at_every_index_path_loads_with_exact_counts(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """All 40,005 index paths as tiny PNGs; load_mura with CSVs and by walking the folders."""
    import cv2

    folder = index_dir(shared_data)
    png = cv2.imencode(".png", np.full((16, 16), 128, np.uint8))[1].tobytes()
    started = time.perf_counter()
    for name in ("train_image_paths.csv", "valid_image_paths.csv"):
        for line in (folder / name).read_text().splitlines():
            if line.strip():
                target = tmp_path / line.strip()
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(png)
    for csv in folder.glob("*.csv"):
        shutil.copy(csv, tmp_path / MURA_DIR / csv.name)
    built = time.perf_counter() - started

    started = time.perf_counter()
    records = load_mura(tmp_path)
    with_csv = time.perf_counter() - started
    check_counts(records, folder)
    assert all(Path(r.path).is_file() for r in records[:: 997])

    for csv in (tmp_path / MURA_DIR).glob("*.csv"):
        csv.unlink()
    started = time.perf_counter()
    walked = load_mura(tmp_path)
    walking = time.perf_counter() - started
    check_counts(walked, folder)
    by_path = sorted(records, key=lambda r: r.path)
    assert sorted(walked, key=lambda r: r.path) == by_path  # same records, field by field

    elbows = load_mura(tmp_path, body_parts=["elbow"])
    assert len(elbows) == 4931 + 465
    per_part = Counter(r.body_part for r in records)
    with capsys.disabled():
        print(f"\n[mura tree] built {len(records)} files in {built:.1f} s; load_mura with CSVs "
              f"{with_csv:.2f} s, by walking {walking:.2f} s; studies train "
              f"{len({r.study_id for r in records if r.split == 'train'})}, valid "
              f"{len({r.study_id for r in records if r.split == 'valid'})}; patients "
              f"{len({r.patient_id for r in records})}; images per body part {dict(per_part)}")
