"""prepare_cache: pixels, skipped inputs, reuse, resume after a kill, masks, workers."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from imagefiles import gradient, write_palette_png, write_png, write_rgba_png

from xrayssl.config.data import ClaheConfig, PrepareConfig, describe_clahe
from xrayssl.data import prepare as prepare_module
from xrayssl.data.cache import INDEX_FILE, PreparedCache
from xrayssl.data.checks import DataWarning
from xrayssl.data.pixels import geometry, make_clahe, prepare_pixels
from xrayssl.data.prepare import prepare, prepare_cache
from xrayssl.data.prepare_state import PROGRESS_FILE
from xrayssl.data.records import Record
from xrayssl.errors import XraySSLError


def good_records(root: Path, n: int = 8) -> list[Record]:
    records = []
    for i in range(n):
        path = write_png(root / f"img{i}.png", gradient(20 + i, 30, seed=i))
        records.append(Record(path=str(path), label=i % 2, body_part="elbow",
                              patient_id=f"p{i // 2}", study_id=f"s{i}", split="train"))
    return records


def read_skipped(cache_dir: Path) -> dict[str, str]:
    with (cache_dir / "skipped.csv").open() as handle:
        return {row["path"]: row["reason"] for row in csv.DictReader(handle)}


def test_geometry_keeps_aspect_and_pads() -> None:
    img = np.full((10, 40), 200, np.uint8)
    out = geometry(img, 20)
    assert out.shape == (20, 20)
    # 40x10 -> 20x5 content centred: rows 7..11 bright, the rest padding.
    assert (out[7:12] == 200).all() and (out[:7] == 0).all() and (out[12:] == 0).all()


def test_clahe_on_content_leaves_padding_alone() -> None:
    img = gradient(10, 40)
    out = prepare_pixels(img, 20, make_clahe(ClaheConfig(clip=3.0, tile=2), 20))
    assert (out[:7] == 0).all() and (out[12:] == 0).all()
    assert not np.array_equal(out, geometry(img, 20))  # CLAHE changed the content


def test_cache_holds_the_prepared_pixels(tmp_path: Path) -> None:
    records = good_records(tmp_path / "src")
    cache = prepare_cache(records, tmp_path / "cache", size=16, workers=1, progress=False)
    assert cache.images.shape == (8, 16, 16) and cache.images.dtype == np.uint8
    # The source's splits are kept in source_split; split holds the protocol's train/val/test.
    assert [replace(r, split=r.source_split, source_split=None) for r in cache.records] == records
    clahe = make_clahe(ClaheConfig(), 16)
    for i in range(len(records)):
        expected = prepare_pixels(gradient(20 + i, 30, seed=i), 16, clahe)
        np.testing.assert_array_equal(cache.images[i], expected)
    # At 16 px the asked 8x8 grid would make 2 px tiles: 2x2 tiles are used and recorded.
    assert cache.config["clahe"] == {"enabled": True, "clip": 2.0, "tile": 8, "tiles_used": 2}


def test_two_workers_give_the_same_cache(tmp_path: Path) -> None:
    records = good_records(tmp_path / "src", n=12)
    one = prepare_cache(records, tmp_path / "one", size=16, workers=1, progress=False)
    two = prepare_cache(records, tmp_path / "two", size=16, workers=2, progress=False)
    np.testing.assert_array_equal(np.asarray(one.images), np.asarray(two.images))
    assert one.config_hash == two.config_hash


def test_bad_inputs_are_skipped_and_listed(tmp_path: Path) -> None:
    src = tmp_path / "src"
    records = good_records(src, n=4)
    (src / "empty.png").write_bytes(b"")
    (src / "text.png").write_text("hello")
    whole = write_png(src / "whole.png", gradient(64, 64)).read_bytes()
    (src / "truncated.png").write_bytes(whole[: len(whole) // 2])
    write_rgba_png(src / "rgba.png", gradient())
    write_palette_png(src / "palette.png", gradient())
    write_png(src / "deep.png", (gradient().astype(np.uint16) * 250))
    names = ["empty", "text", "truncated", "missing", "rgba", "palette", "deep"]
    for name in names:
        records.append(Record(path=str(src / f"{name}.png"), label=1, body_part="elbow",
                              patient_id=name))
    records.append(records[0])  # a duplicate row
    result = prepare(records, tmp_path / "cache", workers=2, progress=False)
    skipped = read_skipped(tmp_path / "cache")
    assert skipped[str(src / "empty.png")] == "empty file (0 bytes)"
    assert "not a readable image" in skipped[str(src / "text.png")]
    assert "truncated" in skipped[str(src / "truncated.png")]
    assert skipped[str(src / "missing.png")] == "file not found"
    assert "duplicate" in skipped[records[0].path]
    assert len(result.skipped) == 5 and result.duplicates == 1
    kept = [Path(r.path).stem for r in result.cache.records]
    assert kept == ["img0", "img1", "img2", "img3", "rgba", "palette", "deep"]
    assert result.cache.images.shape[0] == 7
    assert "skipped: 5" in result.summary() and "duplicate rows removed: 1" in result.summary()


def test_no_usable_image_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_text("nope")
    records = [Record(path=str(tmp_path / "a.png"), label=0),
               Record(path=str(tmp_path / "gone.png"), label=1)]
    with pytest.raises(XraySSLError, match=r"no usable image: all 2 inputs were skipped"):
        prepare_cache(records, tmp_path / "cache", size=16, workers=1, progress=False)
    assert not (tmp_path / "cache" / INDEX_FILE).exists()
    assert len(read_skipped(tmp_path / "cache")) == 2


def test_same_config_reuses_the_cache(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = good_records(tmp_path / "src")
    prepare_cache(records, tmp_path / "cache", size=16, workers=1, progress=False)
    result = prepare(records, tmp_path / "cache", prepare_module.PrepareConfig(size=16),
                     workers=1, progress=True)
    assert result.reused
    assert "reusing the prepared cache" in capsys.readouterr().err
    with pytest.raises(XraySSLError, match="another config"):
        prepare_cache(records, tmp_path / "cache", size=24, progress=False)
    assert prepare_cache(records, tmp_path / "cache", size=24, progress=False,
                         overwrite=True).size == 24


def test_interrupted_run_resumes_without_redoing_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = good_records(tmp_path / "src", n=200)
    original = prepare_module._process_batch
    calls: list[int] = []

    def dying(tasks: list[tuple[int, str, str | None]]) -> list[tuple[int, str | None]]:
        if len(calls) >= 60:
            raise KeyboardInterrupt
        calls.extend(t[0] for t in tasks)
        return original(tasks)

    monkeypatch.setattr(prepare_module, "_process_batch", dying)
    with pytest.raises(KeyboardInterrupt):
        prepare_cache(records, tmp_path / "cache", size=16, workers=1, progress=False)
    assert not (tmp_path / "cache" / INDEX_FILE).exists()  # never looks finished
    assert (tmp_path / "cache" / PROGRESS_FILE).exists()
    done_before = set(calls)
    assert 0 < len(done_before) < 200

    calls.clear()
    monkeypatch.setattr(prepare_module, "_process_batch",
                        lambda tasks: (calls.extend(t[0] for t in tasks), original(tasks))[1])
    result = prepare(records, tmp_path / "cache", prepare_module.PrepareConfig(size=16),
                     workers=1, progress=False)
    assert set(calls).isdisjoint(done_before)
    assert set(calls) | done_before == set(range(200))
    assert result.resumed == len(done_before)
    fresh = prepare_cache(records, tmp_path / "fresh", size=16, workers=1, progress=False)
    np.testing.assert_array_equal(np.asarray(result.cache.images), np.asarray(fresh.images))
    assert not (tmp_path / "cache" / PROGRESS_FILE).exists()


def test_masks_follow_the_image_geometry_without_clahe(tmp_path: Path) -> None:
    src = tmp_path / "src"
    img = gradient(20, 40)
    mask = np.zeros((20, 40), np.uint8)
    mask[4:10, 10:30] = 1
    records = [
        Record(path=str(write_png(src / "a.png", img)), label=1,
               mask_path=str(write_png(src / "a_mask.png", mask))),
        Record(path=str(write_png(src / "b.png", img)), label=0),
    ]
    cache = prepare_cache(records, tmp_path / "cache", size=20, workers=1, progress=False)
    assert cache.masks is not None and cache.masks.shape == (2, 20, 20)
    expected = np.zeros((20, 20), np.uint8)
    expected[2 + 5 : 5 + 5, 5:15] = 255  # halved (rows 2..4), then 5 rows of padding on top
    np.testing.assert_array_equal(cache.masks[0], expected)
    assert cache.masks[1].max() == 0
    assert set(np.unique(cache.masks)) <= {0, 255}


def test_single_class_body_part_warns(tmp_path: Path) -> None:
    records = good_records(tmp_path / "src", n=4)
    records = [*records, Record(path=records[0].path.replace("img0", "img0b"), label=1,
                                body_part="wrist")]
    write_png(Path(records[-1].path), gradient())
    with pytest.warns(DataWarning, match=r"body part 'wrist' has only abnormal \(1\) labels"):
        result = prepare(records, tmp_path / "cache", workers=1, progress=False)
    assert len(result.warnings) == 1


def test_opened_cache_matches_return_value(tmp_path: Path) -> None:
    records = good_records(tmp_path / "src", n=3)
    cache = prepare_cache(records, tmp_path / "cache", size=16, workers=1, progress=False)
    again = PreparedCache.open(tmp_path / "cache")
    assert again.config_hash == cache.config_hash and len(again) == 3


def test_small_images_get_fewer_clahe_tiles_and_the_summary_says_so(tmp_path: Path) -> None:
    """A 28 px MedMNIST-like npz: 8 tiles would be 3.5 px wide; 3 tiles of 9 px are used."""
    from xrayssl.data.prepare import prepare
    from xrayssl.data.sources import load_source

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (12, 28, 28), dtype=np.uint8)
    labels = (np.arange(12) % 2).reshape(-1, 1)
    np.savez(tmp_path / "tiny.npz", train_images=images, train_labels=labels,
             val_images=images[:4], val_labels=labels[:4])
    records = load_source(tmp_path / "tiny.npz")
    result = prepare(records, tmp_path / "cache", PrepareConfig(size=28), workers=1,
                     progress=False)
    assert result.cache.config["clahe"]["tiles_used"] == 3
    assert "CLAHE clip 2, 3x3 tiles of 9 px (8 asked" in result.summary()
    expected = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(3, 3)).apply(images[0])
    first = [r.path for r in result.cache.records].index(records[0].path)
    np.testing.assert_array_equal(result.cache.images[first], expected)
    # The same config at 224 px keeps the asked grid and says nothing about it.
    assert describe_clahe(ClaheConfig(), 224) == "CLAHE clip 2, 8x8 tiles of 28 px"
    assert describe_clahe(ClaheConfig(enabled=False), 28) == "CLAHE off"
