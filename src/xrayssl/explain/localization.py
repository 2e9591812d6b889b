"""Localization scores: does the CAM point at the lesion? Only where masks exist (synthetic data).

* **pointing game**: the CAM's peak pixel lies inside the lesion mask; a hit rate over
  abnormal images. Reported strictly and with the usual tolerance (15 px at 224 px, scaled),
  since small lesions under a coarse CAM grid are rarely hit exactly.
* **energy inside**: the fraction of the CAM's total mass that falls inside the mask. A CAM
  spread evenly over the image scores the mask's area fraction, reported beside it as chance.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from xrayssl.errors import XraySSLError


def _check_pair(cam: np.ndarray, mask: np.ndarray) -> None:
    if cam.ndim != 2 or cam.shape != mask.shape:
        raise XraySSLError(
            f"a CAM and its mask must be 2-D arrays of one shape; got {cam.shape} and {mask.shape}"
        )


def is_empty_cam(cam: np.ndarray) -> bool:
    """True when the CAM has no positive value: Grad-CAM found no evidence for the target.

    With the ``multiscale`` readout this happens when the last stage, where the CAM is taken,
    pulls the logit down and the earlier stages carry it.
    """
    return not bool(np.any(cam > 0))


def pointing_game_hit(cam: np.ndarray, mask: np.ndarray, tolerance: int = 0) -> bool:
    """True when the CAM's maximum lies in the mask (or within ``tolerance`` pixels of it).

    An empty CAM points nowhere, so it is a miss (its argmax would be an arbitrary pixel).
    """
    _check_pair(cam, mask)
    if is_empty_cam(cam):
        return False
    inside = mask > 0
    if tolerance > 0:
        kernel = cv2.getStructuringElement(
            cv2.MORPH_ELLIPSE, (2 * tolerance + 1, 2 * tolerance + 1)
        )
        inside = cv2.dilate(inside.astype(np.uint8), kernel) > 0
    peak_row, peak_col = np.unravel_index(int(np.argmax(cam)), cam.shape)
    return bool(inside[peak_row, peak_col])


def energy_inside(cam: np.ndarray, mask: np.ndarray) -> float:
    """Fraction of the CAM's mass inside the mask, sum(cam * mask) / sum(cam); NaN if empty."""
    _check_pair(cam, mask)
    weights = np.clip(cam.astype(np.float64), 0.0, None)
    total = float(weights.sum())
    if total <= 0.0:
        return math.nan
    return float(weights[mask > 0].sum() / total)


@dataclass(frozen=True)
class LocalizationScore:
    """Scores over the abnormal images that have a non-empty mask."""

    images: int
    pointing_game: float  # share of CAM peaks inside the lesion
    pointing_game_tolerant: float  # share of CAM peaks within ``tolerance`` px of the lesion
    tolerance: int  # pixels
    energy_inside: float  # mean fraction of CAM mass inside the mask
    chance_energy: float  # mean mask area fraction: what a flat CAM would score
    empty_cams: int  # CAMs with no mass: pointing-game misses, left out of energy_inside

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def pointing_tolerance(size: int) -> int:
    """The pointing game's usual 15 px at 224 px, scaled to the image size (at least 1)."""
    return max(1, round(size * 15 / 224))


def localization_score(
    cams: np.ndarray, masks: np.ndarray, tolerance: int | None = None
) -> LocalizationScore:
    """Score (N, H, W) CAMs against (N, H, W) masks; images whose mask is empty are skipped.

    ``tolerance`` defaults to :func:`pointing_tolerance` of the image side.
    """
    if cams.shape != masks.shape or cams.ndim != 3:
        raise XraySSLError(
            f"CAMs and masks must both be (N, H, W) with one shape; got {cams.shape} and "
            f"{masks.shape}"
        )
    if tolerance is None:
        tolerance = pointing_tolerance(max(cams.shape[1:]))
    hits: list[bool] = []
    near: list[bool] = []
    energies: list[float] = []
    areas: list[float] = []
    empty = 0
    for cam, mask in zip(cams, masks, strict=True):
        if not np.any(mask > 0):
            continue
        hits.append(pointing_game_hit(cam, mask))
        near.append(pointing_game_hit(cam, mask, tolerance))
        areas.append(float(np.mean(mask > 0)))
        energy = energy_inside(cam, mask)
        if math.isnan(energy):
            empty += 1
        else:
            energies.append(energy)
    if not hits:
        raise XraySSLError(
            "no image with a lesion mask among those given; the localization score needs "
            "abnormal images with masks (synthetic data: xrayssl synth)"
        )
    return LocalizationScore(
        images=len(hits),
        pointing_game=float(np.mean(hits)),
        pointing_game_tolerant=float(np.mean(near)),
        tolerance=tolerance,
        energy_inside=float(np.mean(energies)) if energies else math.nan,
        chance_energy=float(np.mean(areas)),
        empty_cams=empty,
    )
