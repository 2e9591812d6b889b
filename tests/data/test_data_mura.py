"""load_mura on small MURA v1.1 trees: CSV index, folder walk, masks, body-part filters."""

from __future__ import annotations

from pathlib import Path

import pytest
from imagefiles import gradient, write_png

from xrayssl.data.checks import DataWarning
from xrayssl.data.sources.mura import load_mura
from xrayssl.errors import XraySSLError

# (split, body-part folder, patient, study folder, images)
STUDIES = [
    ("train", "XR_ELBOW", "patient00001", "study1_positive", 2),
    ("train", "XR_ELBOW", "patient00002", "study1_negative", 1),
    ("train", "XR_WRIST", "patient00001", "study1_negative", 3),
    ("train", "XR_WRIST", "patient00003", "study2_positive", 1),
    ("valid", "XR_ELBOW", "patient00009", "study1_positive", 2),
    ("valid", "XR_WRIST", "patient00010", "study1_negative", 1),
]


def make_mura(root: Path, with_csv: bool = True, masks: bool = False) -> Path:
    base = root / "MURA-v1.1"
    rows: dict[str, list[str]] = {"train": [], "valid": []}
    studies: dict[str, list[str]] = {"train": [], "valid": []}
    for split, part, patient, study, n in STUDIES:
        rel_study = f"MURA-v1.1/{split}/{part}/{patient}/{study}/"
        studies[split].append(f"{rel_study},{1 if study.endswith('positive') else 0}")
        for k in range(1, n + 1):
            write_png(root / f"{rel_study}image{k}.png", gradient(seed=k))
            rows[split].append(f"{rel_study}image{k}.png")
            if masks and k == 1:
                write_png(root / f"MURA-v1.1-masks/{split}/{part}/{patient}/{study}/image{k}.png",
                          gradient(seed=k))
    if with_csv:
        for split in rows:
            (base / f"{split}_image_paths.csv").write_text("\n".join(rows[split]) + "\n")
            (base / f"{split}_labeled_studies.csv").write_text("\n".join(studies[split]) + "\n")
    return root


@pytest.mark.parametrize("with_csv", [True, False], ids=["csv", "folder-walk"])
def test_load_mura_fields(tmp_path: Path, with_csv: bool) -> None:
    records = load_mura(make_mura(tmp_path, with_csv=with_csv))
    assert len(records) == sum(s[-1] for s in STUDIES)
    first = next(r for r in records if r.path.endswith("patient00001/study1_positive/image2.png"))
    assert first.body_part == "elbow"
    assert first.patient_id == "patient00001"
    assert first.study_id == "train/XR_ELBOW/patient00001/study1_positive"
    assert first.label == 1 and first.split == "train"
    assert Path(first.path).is_file()
    assert {r.split for r in records} == {"train", "valid"}
    assert len({r.study_id for r in records}) == len(STUDIES)
    assert {r.label for r in records if "negative" in r.study_id} == {0}


def test_csv_label_wins_over_folder_name(tmp_path: Path) -> None:
    root = make_mura(tmp_path)
    csv = root / "MURA-v1.1/train_labeled_studies.csv"
    csv.write_text(csv.read_text().replace("patient00002/study1_negative/,0",
                                           "patient00002/study1_negative/,1"))
    records = load_mura(root)
    assert {r.label for r in records if r.patient_id == "patient00002"} == {1}


def test_body_part_filter_accepts_mura_names(tmp_path: Path) -> None:
    root = make_mura(tmp_path)
    elbows = load_mura(root, body_parts=["XR_ELBOW"])
    assert {r.body_part for r in elbows} == {"elbow"} and len(elbows) == 5
    assert load_mura(root / "MURA-v1.1", body_parts=["Wrist"])[0].body_part == "wrist"


def test_unknown_body_part_lists_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(XraySSLError, match=r"unknown body part 'knee'.*elbow, finger"):
        load_mura(make_mura(tmp_path), body_parts=["knee"])


def test_duplicate_rows_are_dropped_with_a_warning(tmp_path: Path) -> None:
    root = make_mura(tmp_path)
    csv = root / "MURA-v1.1/train_image_paths.csv"
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join([*lines, lines[0], lines[1]]) + "\n")
    with pytest.warns(DataWarning, match="2 duplicate"):
        records = load_mura(root)
    assert len(records) == sum(s[-1] for s in STUDIES)


def test_masks_attached_where_they_exist(tmp_path: Path) -> None:
    records = load_mura(make_mura(tmp_path, masks=True))
    with_mask = [r for r in records if r.mask_path]
    assert len(with_mask) == len(STUDIES)
    assert all(Path(r.mask_path).is_file() for r in with_mask if r.mask_path)
    assert all(r.path.endswith("image1.png") for r in with_mask)


def test_not_a_mura_folder(tmp_path: Path) -> None:
    with pytest.raises(XraySSLError, match=r"MURA-v1\.1"):
        load_mura(tmp_path)


def test_empty_mura_folder(tmp_path: Path) -> None:
    (tmp_path / "MURA-v1.1").mkdir()
    with pytest.raises(XraySSLError, match="no MURA images"):
        load_mura(tmp_path)


def test_malformed_csv_row_names_file_and_line(tmp_path: Path) -> None:
    root = make_mura(tmp_path)
    csv = root / "MURA-v1.1/valid_image_paths.csv"
    csv.write_text(csv.read_text() + "some/other/path.png\n")
    with pytest.raises(XraySSLError, match=r"valid_image_paths.csv, line 4"):
        load_mura(root)
