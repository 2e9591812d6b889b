"""Contact sheet: for every body part, normal films and one film of each abnormality kind.

Abnormal tiles carry a thin outline of the (dilated) lesion mask so a reader can find a
subtle lesion and check that the mask sits on it; the outline is drawn around the lesion,
not over it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from xrayssl.data.records import BODY_PARTS
from xrayssl.errors import XraySSLError
from xrayssl.synth.anatomy import Physique
from xrayssl.synth.lesions import KINDS, sample_lesion
from xrayssl.synth.render import render_view
from xrayssl.synth.study import FINGERS, lesion_site, parse_difficulty

U8 = NDArray[np.uint8]
OUTLINE_BGR = (40, 80, 255)
_SHEET_TAG = 5


def _tile(image: U8, mask: U8 | None, tile: int) -> U8:
    """Fit (keep aspect, pad black) into a square tile; outline the lesion in colour."""
    h, w = image.shape
    scale = tile / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    rgb = cv2.cvtColor(small, cv2.COLOR_GRAY2BGR)
    if mask is not None:
        small_mask = cv2.resize(mask, (nw, nh), interpolation=cv2.INTER_NEAREST)
        grown = cv2.dilate(small_mask, np.ones((7, 7), np.uint8))
        contours, _ = cv2.findContours(grown, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(rgb, contours, -1, OUTLINE_BGR, 1, cv2.LINE_8)
    out = np.zeros((tile, tile, 3), dtype=np.uint8)
    y0, x0 = (tile - nh) // 2, (tile - nw) // 2
    out[y0:y0 + nh, x0:x0 + nw] = rgb
    return out


def _label(width: int, height: int, text: str) -> U8:
    strip = np.full((height, width, 3), 24, dtype=np.uint8)
    baseline = height - 6 if height < 40 else height // 2 + 4
    cv2.putText(strip, text, (4, baseline), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (230, 230, 230), 1,
                cv2.LINE_AA)
    return strip


def render_contact_sheet(path: Path, parts: Sequence[str] = BODY_PARTS, seed: int = 0,
                         size: int = 256, tile: int = 112, normals: int = 2,
                         difficulty: str | float = "easy") -> Path:
    """Rows = body parts; columns = ``normals`` normal films, then one film per lesion kind."""
    level = parse_difficulty(difficulty)
    columns = [("normal", None)] * normals + [(kind, kind) for kind in KINDS]
    label_h = 18
    label_w = 64
    header = np.hstack([_label(label_w, label_h, "")] + [_label(tile, label_h, name)
                                                        for name, _ in columns])
    rows = [header]
    for r, part in enumerate(parts):
        tiles = [_label(label_w, tile, part)]
        for c, (_, kind) in enumerate(columns):
            rng = np.random.default_rng([seed, _SHEET_TAG, r, c])
            physique = Physique.sample(rng)
            finger = FINGERS[int(rng.integers(1, 5))]
            lesion = None
            if kind is not None:
                bone, t = lesion_site(part, finger, rng)
                lesion = sample_lesion(kind, bone, t, level, rng)
            rendered = render_view(part, physique, c, bool(rng.random() < 0.5), lesion, finger,
                                   size, rng)
            tiles.append(_tile(rendered.image, rendered.mask if lesion else None, tile))
        rows.append(np.hstack(tiles))
    sheet = np.vstack(rows)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # palette PNG: 128 grey levels plus the outline colour, exactly (no dithering); about a
    # third of the RGB file size, small enough for a README
    greys = [round(i * 255 / 126) for i in range(127)]
    palette = [v for g in greys for v in (g, g, g)] + list(OUTLINE_BGR[::-1])
    palette_image = Image.new("P", (1, 1))
    palette_image.putpalette(palette + [0, 0, 0] * (256 - len(palette) // 3))
    rgb = Image.fromarray(np.ascontiguousarray(sheet[:, :, ::-1]))
    try:
        rgb.quantize(palette=palette_image, dither=Image.Dither.NONE).save(path, optimize=True)
    except OSError as err:
        raise XraySSLError(f"could not write the contact sheet to {path}: {err}") from err
    return path
