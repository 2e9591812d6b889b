"""read_image: every supported encoding -> (H, W) uint8, and every bad file -> a clear reason."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from imagefiles import gradient, write_palette_png, write_png, write_rgba_png

from xrayssl.data.gray import UnreadableImageError, scale_to_uint8
from xrayssl.data.io import read_image


def test_gray_png_round_trips(tmp_path: Path) -> None:
    img = gradient()
    out = read_image(write_png(tmp_path / "a.png", img))
    assert out.dtype == np.uint8 and out.shape == img.shape
    np.testing.assert_array_equal(out, img)


def test_rgb_png_becomes_gray(tmp_path: Path) -> None:
    img = gradient()
    bgr = np.dstack([img, img, img])
    np.testing.assert_array_equal(read_image(write_png(tmp_path / "c.png", bgr)), img)


def test_rgba_png_becomes_gray_ignoring_alpha(tmp_path: Path) -> None:
    img = gradient()
    out = read_image(write_rgba_png(tmp_path / "rgba.png", img))
    assert out.shape == img.shape
    np.testing.assert_array_equal(out, img)


def test_palette_png_uses_the_palette(tmp_path: Path) -> None:
    img = gradient()
    # The palette reverses indices, so reading raw indices would give 255 - img.
    np.testing.assert_array_equal(read_image(write_palette_png(tmp_path / "p.png", img)), img)


def test_16bit_png_scaled_by_percentiles(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    img16 = rng.integers(1000, 5000, (40, 40)).astype(np.uint16)
    img16[0, 0] = 65535  # one hot pixel must not squash the range
    out = read_image(write_png(tmp_path / "deep.png", img16))
    assert out.dtype == np.uint8 and out.shape == (40, 40)
    assert out.min() == 0 and out.max() == 255
    assert 100 < out.mean() < 155  # uniform values stay spread across the range
    # Order is kept: brighter 16-bit pixels are never darker after scaling.
    flat16, flat8 = img16.ravel().astype(np.int64), out.ravel().astype(np.int64)
    order = np.argsort(flat16, kind="stable")
    assert np.all(np.diff(flat8[order]) >= 0)


def test_constant_16bit_image_is_flat() -> None:
    assert scale_to_uint8(np.full((4, 4), 700, np.uint16)).max() == 0


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("this is not an image\n"), "not a readable image"),
        (lambda p: None, "file not found"),
    ],
    ids=["zero-byte", "text-named-png", "missing"],
)
def test_bad_files_raise_with_reason(tmp_path: Path, make: object, reason: str) -> None:
    path = tmp_path / "bad.png"
    make(path)  # type: ignore[operator]
    with pytest.raises(UnreadableImageError) as info:
        read_image(path)
    assert reason in info.value.reason
    assert str(path) in str(info.value)


def test_truncated_png_is_refused(tmp_path: Path) -> None:
    good = write_png(tmp_path / "good.png", gradient(64, 64))
    data = good.read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableImageError, match="truncated"):
        read_image(cut)


def test_truncated_jpeg_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    assert cv2.imwrite(str(path), gradient(64, 64))
    data = path.read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableImageError):
        read_image(tmp_path / "cut.jpg")


def test_npz_reference(tmp_path: Path) -> None:
    images = np.stack([gradient(seed=s) for s in range(3)])
    np.savez(tmp_path / "m.npz", train_images=images)
    np.testing.assert_array_equal(read_image(f"{tmp_path}/m.npz#train_images/2"), images[2])
    with pytest.raises(UnreadableImageError, match="out of range"):
        read_image(f"{tmp_path}/m.npz#train_images/3")


@pytest.mark.parametrize("content", [b"this is not an image\n", b"GIF89a" + bytes(40),
                                     b"\x89PNG\r\n\x1a\n" + bytes(30) + b"IEND\xaeB`\x82"])
def test_reasons_are_words_without_python_object_reprs(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(UnreadableImageError) as info:
        read_image(path)
    reason = info.value.reason
    assert "0x" not in reason and "<" not in reason and "object at" not in reason, reason
    assert reason.startswith(("not a readable image", "damaged image")), reason


def test_object_reprs_are_cut_from_any_reason() -> None:
    error = UnreadableImageError("a.png", "cannot identify image file <_io.BytesIO object at "
                                          "0x7f3a2b1c4d90>")
    assert error.reason == "cannot identify image file"
