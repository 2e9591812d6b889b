"""The synthetic MURA: exact layout and CSVs, masks, patient-level split, determinism."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from xrayssl.errors import XraySSLError
from xrayssl.synth import generate_dataset
from xrayssl.synth.dataset import plan_patients

IMAGE_ROW = re.compile(
    r"^MURA-v1\.1/(train|valid)/XR_[A-Z]+/patient\d{5}/study\d+_(positive|negative)/image\d+\.png$")
STUDY_ROW = re.compile(
    r"^MURA-v1\.1/(train|valid)/XR_[A-Z]+/patient\d{5}/study\d+_(positive|negative)/,([01])$")
PARTS = ("elbow", "finger", "forearm", "hand", "humerus", "shoulder", "wrist")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "ds"
    return generate_dataset(out, patients=21, size=64, seed=3, difficulty="easy", workers=1,
                            progress=False, positive_fraction=0.5)


def _meta(root: Path) -> list[dict[str, str]]:
    with open(root / "MURA-v1.1" / "synth_meta.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_index_csvs_have_the_mura_format(dataset: Path) -> None:
    mura = dataset / "MURA-v1.1"
    images_on_disk = {str(p.relative_to(dataset)) for p in mura.rglob("*.png")}
    listed: set[str] = set()
    for split in ("train", "valid"):
        image_text = (mura / f"{split}_image_paths.csv").read_text()
        study_text = (mura / f"{split}_labeled_studies.csv").read_text()
        assert image_text.endswith("\n") and "\r" not in image_text
        image_rows = image_text.splitlines()
        study_rows = study_text.splitlines()
        assert image_rows and study_rows
        for row in image_rows:
            match = IMAGE_ROW.match(row)
            assert match, row
            assert match.group(1) == split
        studies_from_images = {row.rsplit("/", 1)[0] + "/" for row in image_rows}
        for row in study_rows:
            match = STUDY_ROW.match(row)
            assert match, row
            path, label = row.rsplit(",", 1)
            assert label == ("1" if "_positive/" in path else "0")
        assert {row.rsplit(",", 1)[0] for row in study_rows} == studies_from_images
        assert len(study_rows) == len(studies_from_images)
        listed |= set(image_rows)
    assert listed == images_on_disk
    parts_seen = {row.split("/")[2] for row in listed}
    assert parts_seen == {f"XR_{p.upper()}" for p in PARTS}


def test_images_are_numbered_from_one_and_patients_stay_in_one_split(dataset: Path) -> None:
    rows = _meta(dataset)
    split_of: dict[str, set[str]] = {}
    views: dict[tuple[str, str], list[int]] = {}
    for r in rows:
        split_of.setdefault(r["patient_id"], set()).add(r["split"])
        views.setdefault((r["patient_id"], r["study"]), []).append(int(r["view"]))
    assert all(len(s) == 1 for s in split_of.values())
    assert {"train", "valid"} == {next(iter(s)) for s in split_of.values()}
    for numbers in views.values():
        assert sorted(numbers) == list(range(1, len(numbers) + 1))


def test_every_image_has_a_mask_nonempty_exactly_for_positives(dataset: Path) -> None:
    rows = _meta(dataset)
    assert {r["label"] for r in rows} == {"0", "1"}
    for r in rows:
        image = cv2.imread(str(dataset / r["path"]), cv2.IMREAD_UNCHANGED)
        mask = cv2.imread(str(dataset / r["mask_path"]), cv2.IMREAD_UNCHANGED)
        assert image is not None and mask is not None, r["path"]
        assert image.dtype == np.uint8 and image.ndim == 2
        assert mask.shape == image.shape
        assert set(np.unique(mask)) <= {0, 255}
        assert r["mask_path"] == r["path"].replace("MURA-v1.1/", "MURA-v1.1-masks/", 1)
        positive = "_positive/" in r["path"]
        assert (r["label"] == "1") == positive
        assert (np.count_nonzero(mask) > 0) == positive, r["path"]
        assert (r["kind"] != "none") == positive
        assert int(r["mask_pixels"]) == np.count_nonzero(mask)
        if positive:  # the lesion is inside the picture, not touching its border
            ys, xs = np.nonzero(mask)
            assert ys.min() > 0 and xs.min() > 0
            assert ys.max() < image.shape[0] - 1 and xs.max() < image.shape[1] - 1
            # it sits on bone, not in the air: brighter than the darkest quarter of the film
            assert np.median(image[mask > 0]) > np.percentile(image, 25)


def test_images_look_like_radiographs(dataset: Path) -> None:
    """Dark air, mid-grey soft tissue, bright bone: a wide spread of grey levels."""
    for r in _meta(dataset)[:12]:
        image = cv2.imread(str(dataset / r["path"]), cv2.IMREAD_GRAYSCALE)
        assert max(image.shape) == 64
        low, high = np.percentile(image, [5, 99])
        assert high - low > 100, r["path"]


def test_same_seed_same_bytes_for_any_worker_count(tmp_path: Path, dataset: Path) -> None:
    again = generate_dataset(tmp_path / "again", patients=21, size=64, seed=3, difficulty="easy",
                             workers=2, progress=False, positive_fraction=0.5)
    assert _tree_bytes(again) == _tree_bytes(dataset)
    other = generate_dataset(tmp_path / "other", patients=21, size=64, seed=4,
                             difficulty="easy", workers=1, progress=False,
                             positive_fraction=0.5)
    assert _tree_bytes(other) != _tree_bytes(dataset)


def test_loads_with_the_mura_loader(dataset: Path) -> None:
    from xrayssl.data.sources import mura
    records = mura.load_mura(dataset)
    rows = _meta(dataset)
    assert len(records) == len(rows)
    by_path = {r["path"]: r for r in rows}
    for record in records:
        rel = str(Path(record.path).resolve().relative_to(dataset.resolve()))
        row = by_path[rel]
        assert record.label == int(row["label"])
        assert record.body_part == row["body_part"]
        assert record.split == row["split"]
        assert record.mask_path is not None
        assert Path(record.mask_path).resolve() == (dataset / row["mask_path"]).resolve()
    assert {r.body_part for r in mura.load_mura(dataset, ["wrist"])} == {"wrist"}


def test_existing_output_is_not_overwritten_without_consent(dataset: Path) -> None:
    before = (dataset / "MURA-v1.1" / "train_image_paths.csv").read_bytes()
    with pytest.raises(XraySSLError, match="already exists"):
        generate_dataset(dataset, patients=7, size=64, progress=False)
    assert (dataset / "MURA-v1.1" / "train_image_paths.csv").read_bytes() == before


def test_patient_plan_is_balanced_and_numbered_like_mura() -> None:
    plans = plan_patients(PARTS, 70, 0.2, seed=0)
    assert [p.number for p in plans] == list(range(1, 71))
    assert all(p.split == "train" for p in plans[:56]) and all(p.split == "valid" for p in
                                                               plans[56:])
    for part in PARTS:
        mine = [p for p in plans if p.part == part]
        assert len(mine) == 10 and sum(p.split == "valid" for p in mine) == 2


@pytest.mark.parametrize("bad", [{"parts": "elbow,knee"}, {"difficulty": "brutal"},
                                 {"difficulty": 1.5}, {"patients": 0}, {"size": 8}])
def test_bad_arguments_say_what_to_do(tmp_path: Path, bad: dict[str, object]) -> None:
    with pytest.raises(XraySSLError):
        generate_dataset(tmp_path / "x", progress=False, **bad)  # type: ignore[arg-type]
    assert not (tmp_path / "x" / "MURA-v1.1").exists()


@pytest.mark.realdata
def test_format_checks_accept_the_real_mura_index(shared_data: Path) -> None:
    """The patterns above are MURA's own: every row of the real index files matches them."""
    index = shared_data / "mura-index"
    for split in ("train", "valid"):
        for row in (index / f"{split}_image_paths.csv").read_text().splitlines():
            assert IMAGE_ROW.match(row), row
        for row in (index / f"{split}_labeled_studies.csv").read_text().splitlines():
            assert STUDY_ROW.match(row), row


def test_overwrite_replaces_the_whole_dataset(tmp_path: Path) -> None:
    first = generate_dataset(tmp_path, parts="hand", patients=3, size=48, seed=1, workers=1,
                             progress=False)
    second = generate_dataset(tmp_path, parts="elbow", patients=2, size=48, seed=1,
                              workers=1, progress=False, overwrite=True)
    assert first == second
    listed = [p for split in ("train", "valid")
              for p in (tmp_path / "MURA-v1.1" / f"{split}_image_paths.csv").read_text().split()]
    on_disk = {str(p.relative_to(tmp_path)) for p in (tmp_path / "MURA-v1.1").rglob("*.png")}
    assert set(listed) == on_disk and all("XR_ELBOW" in p for p in listed)
    assert not list(tmp_path.glob(".synth-*"))  # no staging folder left behind
