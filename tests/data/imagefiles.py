"""Small image files for data-layer tests, written into tmp_path."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image


def gradient(h: int = 24, w: int = 32, seed: int = 0) -> np.ndarray:
    """(h, w) uint8 with a horizontal ramp plus noise: every row differs, nothing is flat."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(20, 230, w)[None, :].repeat(h, 0)
    return np.clip(ramp + rng.normal(0, 5, (h, w)), 0, 255).astype(np.uint8)


def write_png(path: Path, img: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)
    return path


def write_palette_png(path: Path, gray: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Palette entries deliberately in reverse order, so index != gray value.
    palette = []
    for value in range(256):
        palette += [255 - value] * 3
    pil = Image.fromarray((255 - gray).astype(np.uint8), mode="L").convert("P")
    pil.putpalette(palette)
    pil.save(path)
    return path


def write_rgba_png(path: Path, gray: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rgba = np.dstack([gray, gray, gray, np.full_like(gray, 128)])
    Image.fromarray(rgba, mode="RGBA").save(path)
    return path
