"""Any decoded pixel array -> (H, W) uint8 gray, and the error for an image that is not one.

Shared by every decoder (:mod:`xrayssl.data.io` for PNG/JPEG/TIFF/npz, :mod:`xrayssl.data.dicom`
for DICOM), so that none of them imports another.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

from xrayssl.errors import XraySSLError

LOW_PERCENTILE = 0.5
HIGH_PERCENTILE = 99.5


class UnreadableImageError(XraySSLError):
    """One image could not be decoded; ``reason`` is the short text written to skipped.csv."""

    def __init__(self, path: str | Path, reason: str) -> None:
        reason = without_object_reprs(reason)
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


# ``<_io.BytesIO object at 0x7f...>`` and the like: decoders put them in their messages, where
# they say nothing to a reader of skipped.csv and differ on every run.
_OBJECT_REPR = re.compile(r"\s*<[^<>]*\bat 0x[0-9a-fA-F]+>")


def without_object_reprs(text: str) -> str:
    return " ".join(_OBJECT_REPR.sub("", text).split())


def scale_to_uint8(
    img: np.ndarray, low: float = LOW_PERCENTILE, high: float = HIGH_PERCENTILE
) -> np.ndarray:
    """Map any numeric gray image to uint8, stretching between the given percentiles."""
    if img.dtype == np.uint8:
        return img
    values = img.astype(np.float32)
    lo, hi = np.percentile(values, [low, high])
    if not np.isfinite(lo) or not np.isfinite(hi):
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            return np.zeros(img.shape, dtype=np.uint8)
        lo, hi = np.percentile(finite, [low, high])
        values = np.nan_to_num(values, nan=float(lo), posinf=float(hi), neginf=float(lo))
    if hi <= lo:
        # A constant image carries no contrast to stretch: keep it flat and dark.
        return np.zeros(img.shape, dtype=np.uint8)
    out = (values - lo) * np.float32(255.0 / (hi - lo))
    scaled: np.ndarray = np.clip(out, 0, 255).round().astype(np.uint8)
    return scaled


def to_gray(img: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, C) in OpenCV's BGR(A) order -> (H, W), same dtype family."""
    if img.ndim == 2:
        return img
    if img.ndim != 3:
        raise ValueError(f"expected a 2-D or 3-D image array, got shape {img.shape}")
    channels = img.shape[2]
    if channels == 1:
        return img[:, :, 0]
    if channels == 2:  # gray + alpha: the alpha channel is not part of the radiograph
        return img[:, :, 0]
    if img.dtype not in (np.uint8, np.uint16, np.float32):
        img = img.astype(np.float32)
    code = cv2.COLOR_BGRA2GRAY if channels == 4 else cv2.COLOR_BGR2GRAY
    gray: np.ndarray = cv2.cvtColor(np.ascontiguousarray(img[:, :, : min(channels, 4)]), code)
    return gray
