"""Class folders, CSV manifests and .npz files -> records; auto-detection; bad sources."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from imagefiles import gradient, write_png

from xrayssl.data.checks import DataWarning
from xrayssl.data.prepare import prepare
from xrayssl.data.sources import detect_source, load_source
from xrayssl.errors import XraySSLError


def make_folders(root: Path, splits: tuple[str, ...] = ("train", "val")) -> Path:
    for split in splits:
        for label in ("normal", "abnormal"):
            for k in range(2):
                write_png(root / split / label / f"{label[0]}{k}{split}.png", gradient(seed=k))
    return root


def test_class_folders_with_splits(tmp_path: Path) -> None:
    records = load_source(make_folders(tmp_path / "knee"))
    assert len(records) == 8
    assert {r.split for r in records} == {"train", "valid"}  # 'val' means 'valid'
    assert {(Path(r.path).parent.name, r.label) for r in records} == {
        ("normal", 0), ("abnormal", 1)}
    assert all(r.source == "folders" for r in records)


def test_class_folders_without_splits_and_custom_label_map(tmp_path: Path) -> None:
    for name in ("healthy", "fracture"):
        write_png(tmp_path / "src" / name / "x.png", gradient())
    with pytest.raises(XraySSLError, match=r"unknown label 'fracture'.*--label-map"):
        load_source(tmp_path / "src")
    records = load_source(tmp_path / "src", label_map={"healthy": 0, "fracture": 1})
    assert sorted((r.label, r.split) for r in records) == [(0, None), (1, None)]


def test_empty_folder_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty" / "normal").mkdir(parents=True)
    with pytest.raises(XraySSLError, match="no images found"):
        load_source(tmp_path / "empty")


def test_manifest_with_patients_missing_file_and_duplicates(tmp_path: Path) -> None:
    root = tmp_path / "data"
    for name in ("a", "b", "c"):
        write_png(root / "imgs" / f"{name}.png", gradient())
    (root / "labels.csv").write_text(
        "path,split,label,patient_id,side\n"
        "imgs/a.png,train,normal,P1,L\n"
        "imgs/b.png,train,abnormal,P1,R\n"
        "imgs/c.png,val,1,P2,L\n"
        "imgs/gone.png,val,0,P3,L\n"
        "imgs/a.png,train,normal,P1,L\n"
    )
    assert detect_source(root) == "manifest"
    with pytest.warns(DataWarning, match="1 duplicate"):
        records = load_source(root)
    assert [(r.patient_id, r.label, r.split) for r in records] == [
        ("P1", 0, "train"), ("P1", 1, "train"), ("P2", 1, "valid"), ("P3", 0, "valid")]
    result = prepare(records, tmp_path / "cache", workers=1, progress=False)
    assert result.skipped == [(str(root / "imgs" / "gone.png"), "file not found")]
    assert len(result.cache) == 3


def test_manifest_errors_name_line_and_allowed_values(tmp_path: Path) -> None:
    csv = tmp_path / "m.csv"
    csv.write_text("file,label\nx.png,0\n")
    with pytest.raises(XraySSLError, match=r"missing column\(s\) path; the header has file"):
        load_source(csv)
    csv.write_text("path,label\nx.png,maybe\n")
    with pytest.raises(XraySSLError, match=r"m.csv, line 2: unknown label 'maybe'"):
        load_source(csv)
    csv.write_text("path,label,split\nx.png,1,holdout\n")
    with pytest.raises(XraySSLError, match=r"line 2: unknown split 'holdout'; allowed values"):
        load_source(csv)


def test_manifest_path_listed_with_two_labels_is_an_error_naming_both_lines(
    tmp_path: Path,
) -> None:
    csv = tmp_path / "m.csv"
    csv.write_text("path,label\na.png,0\nb.png,1\na.png,1\n")
    with pytest.raises(XraySSLError, match=r"m.csv, line 4: a.png is listed again with label 1 "
                                           r"\(line 2 gives 0\)"):
        load_source(csv)


def test_npz_with_fewer_labels_than_images_names_both_arrays(tmp_path: Path) -> None:
    path = tmp_path / "short.npz"
    np.savez(path, train_images=np.zeros((10, 8, 8), np.uint8), train_labels=np.zeros((7, 1)))
    with pytest.raises(XraySSLError, match=r"train_labels has 7 labels for 10 images"):
        load_source(path)


def test_npz_source(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "pneumonia.npz"
    np.savez(path, train_images=rng.integers(0, 255, (5, 28, 28), dtype=np.uint8),
             train_labels=np.array([[0], [1], [0], [1], [1]]),
             val_images=rng.integers(0, 255, (2, 28, 28), dtype=np.uint8),
             val_labels=np.array([[1], [0]]))
    records = load_source(path)
    assert len(records) == 7
    assert [r.label for r in records if r.split == "train"] == [0, 1, 0, 1, 1]
    assert {r.split for r in records} == {"train", "valid"}
    cache = prepare(records, tmp_path / "cache", workers=1, progress=False).cache
    assert cache.images.shape == (7, 224, 224)


def test_npz_multiclass_needs_a_label_map(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    np.savez(path, train_images=np.zeros((2, 8, 8), np.uint8), train_labels=np.array([0, 2]))
    with pytest.raises(XraySSLError, match="unknown label '2'"):
        load_source(path)
    assert [r.label for r in load_source(path, label_map={"2": 1})] == [0, 1]


def test_unknown_body_part_lists_present_ones(tmp_path: Path) -> None:
    write_png(tmp_path / "imgs" / "a.png", gradient())
    (tmp_path / "m.csv").write_text("path,label,body_part\nimgs/a.png,0,Elbow\n")
    assert len(load_source(tmp_path / "m.csv", body_parts=["elbow"])) == 1
    with pytest.raises(XraySSLError, match=r"unknown body part 'wrist'; valid body parts: elbow"):
        load_source(tmp_path / "m.csv", body_parts=["wrist"])


def test_missing_source(tmp_path: Path) -> None:
    with pytest.raises(XraySSLError, match="source not found"):
        load_source(tmp_path / "nowhere")


def test_sources_registry_holds_every_layout_and_an_unknown_kind_suggests(tmp_path: Path) -> None:
    from xrayssl.data.sources import SOURCES

    assert SOURCES.names() == ["aihub", "dicom", "folders", "manifest", "mura", "npz"]
    make_folders(tmp_path / "knee")
    with pytest.raises(XraySSLError, match=r"unknown source layout 'folder'.*'folders'"):
        load_source(tmp_path / "knee", kind="folder")
    assert len(load_source(tmp_path / "knee", kind="folders")) == 8


def test_a_new_layout_is_asked_by_priority(tmp_path: Path) -> None:
    """A layout registered with a lower priority is asked before the catch-all class folders."""
    from xrayssl.data.records import Record
    from xrayssl.data.sources import SOURCES, SourceLayout
    from xrayssl.registry import Registry

    layouts: Registry[type[SourceLayout]] = Registry("source layout")
    for name, layout in SOURCES.items():
        layouts.register(name)(layout)

    @layouts.register()
    class Marked(SourceLayout):
        name = "marked"
        priority = 20

        @staticmethod
        def detect(path: Path) -> bool:
            return (path / "MARKER").is_file()

        @staticmethod
        def read(path: Path, label_map: dict[str, int] | None) -> list[Record]:
            return []

    root = make_folders(tmp_path / "knee")
    assert detect_source(root, layouts) == "folders"
    (root / "MARKER").write_text("")
    assert detect_source(root, layouts) == "marked"
    assert detect_source(root) == "folders"  # the shared registry is untouched


def test_a_manifest_naming_images_outside_its_folder_says_so(tmp_path: Path) -> None:
    write_png(tmp_path / "elsewhere" / "a.png", gradient())
    write_png(tmp_path / "lists" / "b.png", gradient())
    csv = tmp_path / "lists" / "m.csv"
    csv.write_text("path,label\n../elsewhere/a.png,0\nb.png,1\n")
    with pytest.warns(DataWarning, match=r"1 of 2 listed image\(s\) lie outside the manifest's "
                                         r"folder \(first: .*elsewhere/a.png\)"):
        records = load_source(csv)
    assert len(records) == 2
