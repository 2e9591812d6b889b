"""The AI Hub synthetic X-ray release: detection, pairing JSON with images, bad entries."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
from aihub_tree import CATEGORIES, IMAGES_DIR, OPEN_DATA, RELEASE, write_aihub_tree

from xrayssl.data.cache import SKIPPED_FILE
from xrayssl.data.checks import DataWarning
from xrayssl.data.prepare import prepare
from xrayssl.data.sources import detect_source, load_source
from xrayssl.data.sources.aihub import scan_aihub
from xrayssl.data.sources.aihub_names import parse_category
from xrayssl.errors import XraySSLError


def test_category_folder_names() -> None:
    foot = parse_category("VS_05.Foot_Hallux_Valgus")
    assert foot is not None and (foot.body_part, foot.condition, foot.label) == (
        "foot", "Hallux_Valgus", 1)
    assert foot.key == "05.Foot_Hallux_Valgus"
    chest = parse_category("TS_01.ChestPA_Normal.zip")
    assert chest is not None and (chest.body_part, chest.label) == ("chestpa", 0)
    face = parse_category("TL_09.Facial bone_Abnormal")  # the release spells it both ways
    assert face is not None and (face.body_part, face.key) == ("facial_bone",
                                                               "09.Facial_bone_Abnormal")
    assert parse_category("VS_05.Knee_Normal") is None
    assert parse_category("images") is None


def test_a_release_is_detected_at_any_of_its_top_folders(tmp_path: Path) -> None:
    tree = write_aihub_tree(tmp_path / "aihub", per_category=2, problems=False)
    for root in (tree.root, tree.root / RELEASE, tree.root / RELEASE / OPEN_DATA):
        assert detect_source(root) == "aihub"


def test_records_counts_labels_body_parts_splits_and_conditions(tmp_path: Path) -> None:
    tree = write_aihub_tree(tmp_path / "aihub", per_category=3)
    scan = scan_aihub(tree.root)
    records = scan.records
    assert Counter(r.split for r in records) == {"train": tree.images["train"],
                                                  "valid": tree.images["valid"]}
    assert {r.source for r in records} == {"aihub"}
    assert {r.body_part for r in records} == {"chestpa", "mammography", "foot", "pns",
                                              "facial_bone"}
    for record in records:
        # the generated file name repeats its folder's body part and condition
        name = Path(record.path.split(".zip#")[-1]).name
        assert record.label == (0 if record.condition == "Normal" else 1)
        assert record.condition in {c for _, _, c in CATEGORIES}
        assert f"_{record.condition}_" in name and record.split in name
    assert Counter(r.condition for r in records if r.split == "train")["Hallux_Valgus"] == 3
    # no patients in synthetic data: each image is its own group
    assert len({r.patient_id for r in records}) == len(records)
    # zipped folders are read through archive.zip#member references
    zipped = [r for r in records if ".zip#" in r.path]
    assert len(zipped) == 2 and {r.split for r in zipped} == {"valid"}


def test_broken_filepath_is_found_by_filename_and_a_real_one_is_used(tmp_path: Path) -> None:
    tree = write_aihub_tree(tmp_path / "aihub", per_category=2)
    records = scan_aihub(tree.root).records
    for record in records:
        if ".zip#" not in record.path:
            assert Path(record.path).is_file()
            assert IMAGES_DIR in record.path  # found under 01.원천데이터, not at D:\...
    feet = [r for r in records if r.body_part == "foot" and r.condition == "Normal"]
    assert feet and all(Path(r.path).is_file() for r in feet)


def test_bad_entries_are_listed_with_reasons_and_reach_skipped_csv(tmp_path: Path) -> None:
    tree = write_aihub_tree(tmp_path / "aihub", per_category=2)
    scan = scan_aihub(tree.root)
    reasons = {Path(path.split(".zip#")[-1]).name: reason for path, reason in scan.skipped}
    assert set(reasons) == set(tree.problems)
    for name, expected in tree.problems.items():
        assert expected in reasons[name], reasons[name]
    assert "gone.png" in reasons["missing.json"]
    with pytest.warns(DataWarning, match="3 AI Hub entries skipped"):
        records = load_source(tree.root)
    result = prepare(records, tmp_path / "cache", workers=1, progress=False,
                     source_skipped=scan.skipped)
    assert len(result.cache) == len(records)
    with (result.cache.root / SKIPPED_FILE).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {Path(row["path"]).name for row in rows} == set(tree.problems)
    # Korean paths survive the cache index and the skipped list unchanged
    assert any("02.라벨링데이터" in row["path"] for row in rows)
    assert all(RELEASE in r.path and IMAGES_DIR in r.path for r in result.cache.records)
    assert {r.condition for r in result.cache.records} == {c for _, _, c in CATEGORIES}


def test_body_part_selection_and_bad_roots(tmp_path: Path) -> None:
    tree = write_aihub_tree(tmp_path / "aihub", per_category=2, problems=False)
    feet = load_source(tree.root, body_parts=["Foot"])
    assert feet and {r.body_part for r in feet} == {"foot"}
    with pytest.raises(XraySSLError, match=r"valid body parts: .*chestpa"):
        load_source(tree.root, body_parts=["knee"])
    (tmp_path / "empty" / "Training" / "02.라벨링데이터").mkdir(parents=True)
    with pytest.raises(XraySSLError, match="no image could be paired"):
        load_source(tmp_path / "empty", kind="aihub")
    (tmp_path / "plain").mkdir()
    with pytest.raises(XraySSLError, match="does not hold the AI Hub layout"):
        load_source(tmp_path / "plain", kind="aihub")


def test_the_seed_studys_reorganised_layout_reads_with_conditions_from_the_json(
    tmp_path: Path,
) -> None:
    from aihub_tree import SEED_PARTS, write_seed_tree

    written = write_seed_tree(tmp_path, per_folder=2)
    root = tmp_path / "aihub"
    assert detect_source(root) == "aihub" and detect_source(tmp_path) == "aihub"
    scan = scan_aihub(root)
    assert scan.skipped == []
    assert len(scan.records) == written
    assert {r.split for r in scan.records} == {"train", "valid"}
    by_part = {(r.body_part, r.label, r.condition) for r in scan.records}
    assert ("foot", 1, "Hallux_Valgus") in by_part and ("pns", 1, "Haziness") in by_part
    assert ("chestpa", 1, SEED_PARTS["ChestPA"]) in by_part
    assert ("mammography", 0, "Normal") in by_part and ("facial_bone", 1, "Abnormal") in by_part


def test_a_json_label_that_contradicts_its_folder_is_skipped_with_the_reason(
    tmp_path: Path,
) -> None:
    import json

    from aihub_tree import write_seed_tree

    write_seed_tree(tmp_path, per_folder=2)
    labels = tmp_path / "aihub" / "Train" / "02.라벨링데이터" / "Foot_Normal"
    first = sorted(labels.glob("*.json"))[0]
    first.write_text(json.dumps({**json.loads(first.read_text()), "label": "Hallux_Valgus"}))
    scan = scan_aihub(tmp_path)
    assert next((Path(p).name, reason) for p, reason in scan.skipped) == (
        first.name, "label 'Hallux_Valgus' in the JSON names a condition, its folder says Normal")
