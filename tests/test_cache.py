from pathlib import Path

import pytest
from conftest import MakeCache

from xrayssl.data.cache import PreparedCache
from xrayssl.errors import XraySSLError


def test_cache_roundtrip_and_select(make_cache: MakeCache) -> None:
    cache = make_cache(n=40, size=16)
    again = PreparedCache.open(cache.root)
    assert again.images.shape == (40, 16, 16)
    assert again.records == cache.records
    assert set(again.labels.tolist()) == {0, 1}
    test = again.select(splits=["test"])
    assert len(test) and all(again.records[i].source_split == "valid" for i in test)
    assert {again.records[i].split for i in range(len(again))} == {"train", "val", "test"}
    assert again.masks is not None and again.masks[again.labels == 0].max() == 0


def test_folder_without_index_is_not_a_cache(tmp_path: Path) -> None:
    with pytest.raises(XraySSLError, match="not a prepared cache"):
        PreparedCache.open(tmp_path)


def test_atomic_writes_replace_whole_files_with_shareable_permissions(tmp_path: Path) -> None:
    import os
    import stat

    from xrayssl.atomic import atomic_output, atomic_write_text

    target = tmp_path / "out" / "report.html"
    atomic_write_text(target, "first")
    atomic_write_text(target, "second")
    assert target.read_text() == "second"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask
    # A writer that fails leaves the previous file and no temporary behind.
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer crashed")
    assert target.read_text() == "second"
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.html"]


def test_patient_and_study_ids_fall_back_to_study_then_path(tmp_path: Path) -> None:
    import numpy as np

    from xrayssl.data.records import Record

    records = [
        Record(path="a.png", label=0, patient_id="P1", study_id="S1"),
        Record(path="b.png", label=1, patient_id="", study_id="S2"),
        Record(path="c.png", label=1, patient_id="", study_id=""),
    ]
    cache = PreparedCache(root=tmp_path, images=np.zeros((3, 4, 4), dtype=np.uint8),
                          records=records, size=4, config={}, config_hash="x")
    assert cache.patient_ids.tolist() == ["P1", "S2", "c.png"]
    assert cache.study_ids.tolist() == ["S1", "S2", "c.png"]
    assert cache.patient_ids[np.array([2, 0])].tolist() == ["c.png", "P1"]
    assert cache.patient_ids is cache.patient_ids  # built once
