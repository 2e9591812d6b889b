"""DICOM: MONOCHROME1 inverted, window applied, 12/16-bit scaled, no pixel data skipped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from dicomfiles import write_dicom

from xrayssl.data.checks import DataWarning
from xrayssl.data.gray import UnreadableImageError
from xrayssl.data.io import read_image
from xrayssl.data.prepare import prepare
from xrayssl.data.records import Record
from xrayssl.data.sources import load_source


def ramp16(h: int = 16, w: int = 64, top: int = 4095) -> np.ndarray:
    return np.linspace(0, top, w).round().astype(np.uint16)[None, :].repeat(h, 0)


def test_monochrome2_12bit_scaled_to_full_range(tmp_path: Path) -> None:
    out = read_image(write_dicom(tmp_path / "a.dcm", ramp16(), bits_stored=12))
    assert out.dtype == np.uint8 and out.shape == (16, 64)
    assert out[0, 0] == 0 and out[0, -1] == 255
    assert np.all(np.diff(out[0].astype(int)) >= 0)  # brighter stays brighter


def test_monochrome1_is_inverted(tmp_path: Path) -> None:
    m2 = read_image(write_dicom(tmp_path / "m2.dcm", ramp16(), bits_stored=12))
    m1 = read_image(write_dicom(tmp_path / "m1.dcm", ramp16(), "MONOCHROME1", bits_stored=12))
    np.testing.assert_array_equal(m1, 255 - m2)


def test_window_is_applied(tmp_path: Path) -> None:
    pixels = ramp16(top=4000)
    out = read_image(write_dicom(tmp_path / "w.dcm", pixels, window=(2000, 1000),
                                 bits_stored=12))
    below, above = pixels[0] < 1450, pixels[0] > 2550
    assert (out[0][below] == 0).all() and (out[0][above] == 255).all()
    inside = (pixels[0] > 1600) & (pixels[0] < 2400)
    assert out[0][inside].min() > 0 and out[0][inside].max() < 255
    # Without the window, the same pixels span the whole range instead.
    plain = read_image(write_dicom(tmp_path / "p.dcm", pixels, bits_stored=12))
    assert (plain[0][below] > 0).sum() > 0


def test_dicom_without_pixel_data_is_skipped_with_reason(tmp_path: Path) -> None:
    empty = write_dicom(tmp_path / "dicoms" / "normal" / "empty.dcm", None, patient="P2")
    with pytest.raises(UnreadableImageError, match="DICOM has no pixel data"):
        read_image(empty)
    write_dicom(tmp_path / "dicoms" / "abnormal" / "good.dcm", ramp16(), patient="P3")
    records = load_source(tmp_path / "dicoms")
    assert {(r.patient_id, r.label, r.body_part) for r in records} == {
        ("P2", 0, "elbow"), ("P3", 1, "elbow")}
    with pytest.warns(DataWarning, match="only abnormal"):
        result = prepare(records, tmp_path / "cache", workers=1, progress=False)
    assert [Path(r.path).name for r in result.cache.records] == ["good.dcm"]
    assert result.skipped == [(str(empty), "DICOM has no pixel data")]


def test_dicom_without_extension_is_found(tmp_path: Path) -> None:
    write_dicom(tmp_path / "d" / "IM0001", ramp16())
    records = load_source(tmp_path / "d")
    assert len(records) == 1 and records[0].source == "dicom"
    assert read_image(Record(path=records[0].path, label=None).path).shape == (16, 64)
