"""The pixels of a prepared image: resize with aspect kept, CLAHE, pad to a square.

Everything that decides what a cached image looks like, and nothing about files or workers:
the preview and Grad-CAM overlays use the same geometry.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from xrayssl.config.data import ClaheConfig, clahe_tiles


def fit_inside(img: np.ndarray, size: int, interpolation: int | None = None) -> np.ndarray:
    """Resize (H, W) so the longer side is ``size``, aspect kept -> (h', w'), max = size."""
    h, w = img.shape[:2]
    scale = size / max(h, w)
    new_w = max(1, min(size, round(w * scale)))
    new_h = max(1, min(size, round(h * scale)))
    if (new_h, new_w) == (h, w):
        return img
    if interpolation is None:
        # INTER_AREA averages when shrinking (no aliasing); INTER_LINEAR when enlarging.
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(img, (new_w, new_h), interpolation=interpolation)


def pad_square(img: np.ndarray, size: int, value: int = 0) -> np.ndarray:
    """Centre (h', w') on a (size, size) canvas filled with ``value``."""
    h, w = img.shape[:2]
    if (h, w) == (size, size):
        return np.ascontiguousarray(img)
    top, left = (size - h) // 2, (size - w) // 2
    return cv2.copyMakeBorder(
        img, top, size - h - top, left, size - w - left, cv2.BORDER_CONSTANT, value=value
    )


def geometry(img_u8: np.ndarray, size: int, pad_value: int = 0) -> np.ndarray:
    """(H, W) uint8 -> (size, size) uint8: resize keeping aspect, then pad. No CLAHE."""
    return pad_square(fit_inside(img_u8, size), size, pad_value)


def make_clahe(config: ClaheConfig, size: int) -> Any:
    """OpenCV's CLAHE for ``size`` px images: the grid of ``clahe_tiles`` (None when off)."""
    if not config.enabled:
        return None
    tiles = clahe_tiles(config, size)
    return cv2.createCLAHE(clipLimit=config.clip, tileGridSize=(tiles, tiles))


def prepare_pixels(img_u8: np.ndarray, size: int, clahe: Any, pad_value: int = 0) -> np.ndarray:
    """(H, W) uint8 -> (size, size) uint8 as stored in the cache.

    CLAHE runs on the resized image before padding, so the flat padding neither skews the
    tile histograms nor gets lifted off ``pad_value`` by them; the geometry is the same as
    :func:`geometry`.
    """
    content = fit_inside(img_u8, size)
    if clahe is not None:
        content = clahe.apply(np.ascontiguousarray(content))
    return pad_square(content, size, pad_value)


def prepare_mask(mask: np.ndarray, size: int) -> np.ndarray:
    """Any mask -> (size, size) uint8 in {0, 255}; nearest neighbour keeps it binary."""
    binary = np.where(mask > 0, 255, 0).astype(np.uint8)
    return pad_square(fit_inside(binary, size, cv2.INTER_NEAREST), size, 0)
