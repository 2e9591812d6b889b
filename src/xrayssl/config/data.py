"""Config models for loading and preparing data, and the parsers for their CLI spellings.

``--clahe clip=2.0,tile=8`` (or ``off``) and ``--label-map normal=0,abnormal=1`` are parsed
here so the library, YAML files and the CLI share one set of defaults and one set of errors.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator

from xrayssl.config.base import StrictModel, validate
from xrayssl.errors import XraySSLError

DEFAULT_LABEL_MAP: dict[str, int] = {
    "normal": 0,
    "negative": 0,
    "abnormal": 1,
    "positive": 1,
}


# Smallest cache side: below it the encoders' stems leave a 1x1 map and CLAHE has no room.
MIN_SIZE = 16


class ClaheConfig(StrictModel):
    """Contrast-limited adaptive histogram equalisation (OpenCV ``createCLAHE``)."""

    enabled: bool = True
    clip: float = Field(default=2.0, gt=0.0, le=40.0, description="clip limit")
    tile: int = Field(default=8, ge=1, le=64, description="tiles per side of the grid")


# CLAHE equalises each tile's histogram; a tile of a few pixels has no histogram to speak of
# and the interpolation between such tiles turns a film into speckle (8 tiles at 28 px are
# 3.5 px wide). Fewer tiles are used where the asked grid would make them smaller than this.
MIN_TILE_PX = 8


def clahe_tiles(clahe: ClaheConfig, size: int) -> int:
    """Tiles per side actually used on ``size`` px images: the asked grid, or fewer so that
    no tile is under ``MIN_TILE_PX`` (at least one: a single tile is a clipped global HE)."""
    return max(1, min(clahe.tile, size // MIN_TILE_PX))


def describe_clahe(clahe: ClaheConfig, size: int) -> str:
    """What the prepare summary says was applied, e.g. ``CLAHE clip 2, 8x8 tiles of 28 px``."""
    if not clahe.enabled:
        return "CLAHE off"
    tiles = clahe_tiles(clahe, size)
    text = f"CLAHE clip {clahe.clip:g}, {tiles}x{tiles} tiles of {size / tiles:.0f} px"
    if tiles < clahe.tile:
        text += (f" ({clahe.tile} asked; fewer at {size} px so that tiles stay at least "
                 f"{MIN_TILE_PX} px; --clahe off turns it off)")
    return text


class PrepareConfig(StrictModel):
    """Everything that changes the pixels of a prepared cache (hashed into the cache)."""

    size: int = Field(default=224, ge=MIN_SIZE, le=4096,
                      description="side of the square output images")
    clahe: ClaheConfig = Field(default_factory=lambda: ClaheConfig())
    pad_value: int = Field(default=0, ge=0, le=255)


class SplitConfig(StrictModel):
    """How the train / val / test splits are made from the source's own splits (by patient).

    ``val_fraction`` of the training images are carved out as ``val`` when the source has no
    val split of its own; ``test_fraction`` of all images become ``test`` when the source has
    neither a test nor a validation split (a flat class folder, a CSV without a split column).
    """

    val_fraction: float = Field(default=0.15, gt=0, lt=0.5)
    test_fraction: float = Field(default=0.2, gt=0, lt=0.5)
    seed: int = Field(default=0, ge=0)


class LabelMap(StrictModel):
    """Folder or CSV label names -> 0 (normal) / 1 (abnormal)."""

    names: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_LABEL_MAP))

    @field_validator("names")
    @classmethod
    def _binary(cls, names: dict[str, int]) -> dict[str, int]:
        bad = {k: v for k, v in names.items() if v not in (0, 1)}
        if bad:
            raise ValueError(f"labels must be 0 or 1, got {bad}")
        return {k.strip().lower(): v for k, v in names.items()}


def _key_values(text: str, option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise XraySSLError(
                f"{option}: expected key=value pairs separated by commas, got {item!r}"
            )
        pairs[key.strip()] = value.strip()
    return pairs


def parse_clahe(text: str | None) -> ClaheConfig:
    """``"clip=2.0,tile=8"`` -> ClaheConfig; ``"off"``/``"none"`` disables CLAHE."""
    if text is None or not text.strip():
        return ClaheConfig()
    if text.strip().lower() in ("off", "none", "false", "0"):
        return ClaheConfig(enabled=False)
    pairs = _key_values(text, "--clahe")
    allowed = ("clip", "tile")
    unknown = sorted(set(pairs) - set(allowed))
    if unknown:
        raise XraySSLError(
            f"--clahe: unknown field {', '.join(unknown)}; allowed fields: {', '.join(allowed)} "
            "(e.g. clip=2.0,tile=8, or 'off')"
        )
    return validate(ClaheConfig, pairs, "--clahe (clip > 0 and <= 40, tile 1..64)")


def parse_label_map(text: str | None) -> dict[str, int]:
    """``"normal=0,abnormal=1"`` -> {"normal": 0, "abnormal": 1}; None gives the default map."""
    if text is None or not text.strip():
        return dict(DEFAULT_LABEL_MAP)
    pairs = _key_values(text, "--label-map")
    values: dict[str, Any] = {}
    for name, value in pairs.items():
        if value not in ("0", "1"):
            raise XraySSLError(
                f"--label-map: label of {name!r} must be 0 or 1 (allowed values: 0, 1), "
                f"got {value!r}"
            )
        values[name] = int(value)
    return validate(LabelMap, {"names": values}, "--label-map").names


UNKNOWN_BODY_PART = "unknown"  # what a source that names no body part records
_BODY_PART_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


def check_body_part_name(name: str, option: str = "--body-part") -> str:
    """``" Knee "`` -> ``"knee"``; letters, digits, ``_`` and ``-`` only."""
    cleaned = name.strip().lower()
    if not _BODY_PART_NAME.fullmatch(cleaned) or cleaned == UNKNOWN_BODY_PART:
        raise XraySSLError(
            f"{option} {name!r}: give a name of letters, digits, '_' or '-', e.g. knee or chest"
        )
    return cleaned
