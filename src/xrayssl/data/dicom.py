"""DICOM radiographs -> (H, W) uint8, the way a reading workstation would show them.

Order matters and follows the DICOM display pipeline: stored values -> modality LUT
(rescale slope/intercept) -> VOI LUT or window centre/width -> 8 bits -> MONOCHROME1 inverted
(in MONOCHROME1 a high value is dark, the opposite of every other image we read).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError
from pydicom.pixels.processing import apply_modality_lut, apply_voi_lut

from xrayssl.data.gray import UnreadableImageError, scale_to_uint8, to_gray

DICOM_MAGIC_OFFSET = 128
DICOM_MAGIC = b"DICM"
PIXEL_DATA_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


def is_dicom_bytes(data: bytes) -> bool:
    return data[DICOM_MAGIC_OFFSET : DICOM_MAGIC_OFFSET + 4] == DICOM_MAGIC


def is_dicom_file(path: Path) -> bool:
    """True for a Part-10 DICOM file (the 'DICM' preamble), whatever its name."""
    try:
        with path.open("rb") as handle:
            head = handle.read(DICOM_MAGIC_OFFSET + 4)
    except OSError:
        return False
    return is_dicom_bytes(head)


def has_voi_transform(ds: Any) -> bool:
    return "VOILUTSequence" in ds or ("WindowCenter" in ds and "WindowWidth" in ds)


def dicom_to_uint8(ds: Any, path: str | Path) -> np.ndarray:
    """Decoded dataset -> (H, W) uint8 through modality LUT, VOI/window and MONOCHROME1."""
    if not any(keyword in ds for keyword in PIXEL_DATA_KEYWORDS):
        raise UnreadableImageError(path, "DICOM has no pixel data")
    try:
        pixels = ds.pixel_array
    except Exception as err:  # pydicom raises many types for codecs it lacks
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "unknown")
        raise UnreadableImageError(
            path, f"DICOM pixel data cannot be decoded (transfer syntax {syntax}: {err})"
        ) from None
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    if frames > 1:
        pixels = pixels[0]  # a radiograph series: the first frame stands for the image
    photometric = str(getattr(ds, "PhotometricInterpretation", "MONOCHROME2")).upper()
    if pixels.ndim == 3:
        pixels = to_gray(np.ascontiguousarray(pixels[:, :, ::-1]))  # pydicom gives RGB
        photometric = "MONOCHROME2"
    values = np.asarray(pixels)
    if photometric.startswith("MONOCHROME"):
        values = apply_modality_lut(values, ds)
        if has_voi_transform(ds):
            values = apply_voi_lut(values, ds)
            # The VOI transform already chose the range of interest; its span maps to 0..255.
            out = scale_to_uint8(np.asarray(values, dtype=np.float64), 0.0, 100.0)
        else:
            out = scale_to_uint8(np.asarray(values))
    else:
        out = scale_to_uint8(values)
    if out.dtype != np.uint8:
        out = out.astype(np.uint8)
    if photometric == "MONOCHROME1":
        out = 255 - out
    return out


def read_dicom(path: str | Path) -> np.ndarray:
    """Read a DICOM file -> (H, W) uint8. Raises UnreadableImageError with a reason."""
    try:
        ds = pydicom.dcmread(str(path))
    except InvalidDicomError:
        raise UnreadableImageError(path, "not a DICOM file (no DICM preamble)") from None
    except FileNotFoundError:
        raise UnreadableImageError(path, "file not found") from None
    except Exception as err:
        raise UnreadableImageError(path, f"damaged DICOM file ({err})") from None
    return dicom_to_uint8(ds, path)


def read_dicom_header(path: Path) -> Any:
    """The dataset without pixel data: fast, for building records from a folder."""
    try:
        return pydicom.dcmread(str(path), stop_before_pixels=True)
    except Exception as err:
        raise UnreadableImageError(path, f"not a readable DICOM file ({err})") from None
