from __future__ import annotations

import math

import numpy as np
import pytest

from xrayssl.errors import XraySSLError
from xrayssl.explain.localization import energy_inside, localization_score, pointing_game_hit


def hand_made_pair() -> tuple[np.ndarray, np.ndarray]:
    """10x10: lesion = rows 2-3, cols 2-3 (4 px). CAM: 1.0 on the lesion, 0.5 at (8, 8)."""
    mask = np.zeros((10, 10), dtype=np.uint8)
    mask[2:4, 2:4] = 255
    cam = np.zeros((10, 10), dtype=np.float32)
    cam[2:4, 2:4] = 1.0
    cam[8, 8] = 0.5
    return cam, mask


def test_energy_and_pointing_on_a_hand_made_pair() -> None:
    cam, mask = hand_made_pair()
    assert pointing_game_hit(cam, mask)
    assert energy_inside(cam, mask) == pytest.approx(4.0 / 4.5)
    cam[8, 8] = 2.0  # the peak moves outside the lesion
    assert not pointing_game_hit(cam, mask)
    assert energy_inside(cam, mask) == pytest.approx(4.0 / 6.0)


def test_pointing_tolerance() -> None:
    mask = np.zeros((10, 10), dtype=np.uint8)
    mask[2:4, 2:4] = 1
    cam = np.zeros((10, 10), dtype=np.float32)
    cam[5, 3] = 1.0  # two pixels below the lesion
    assert not pointing_game_hit(cam, mask)
    assert not pointing_game_hit(cam, mask, tolerance=1)
    assert pointing_game_hit(cam, mask, tolerance=2)


def test_summary_skips_images_without_lesions_and_reports_chance() -> None:
    cam, mask = hand_made_pair()
    miss = np.zeros_like(cam)
    miss[9, 9] = 1.0
    empty_mask = np.zeros_like(mask)
    cams = np.stack([cam, miss, cam, np.zeros_like(cam)])
    masks = np.stack([mask, mask, empty_mask, mask])
    score = localization_score(cams, masks, tolerance=1)
    assert score.images == 3  # the image with an empty mask is not scored
    assert score.pointing_game == pytest.approx(1 / 3)  # the all-zero CAM points nowhere
    assert score.empty_cams == 1
    assert score.energy_inside == pytest.approx((4.0 / 4.5 + 0.0) / 2)
    assert score.chance_energy == pytest.approx(0.04)
    assert score.pointing_game_tolerant == pytest.approx(1 / 3)  # (9, 9) is far from rows 2-3
    near = np.zeros_like(cam)
    near[4, 4] = 1.0  # diagonal neighbour of the lesion corner (3, 3)
    tolerant = localization_score(near[None], mask[None], tolerance=2)
    assert (tolerant.pointing_game, tolerant.pointing_game_tolerant) == (0.0, 1.0)
    assert localization_score(near[None], mask[None]).tolerance == 1  # 10 px * 15 / 224


def test_empty_cam_and_bad_input() -> None:
    assert math.isnan(energy_inside(np.zeros((4, 4)), np.ones((4, 4))))
    # An empty CAM is a miss even where the lesion covers its argmax (pixel (0, 0)).
    assert not pointing_game_hit(np.zeros((4, 4)), np.ones((4, 4)), tolerance=2)
    assert not pointing_game_hit(np.full((4, 4), -0.5), np.ones((4, 4)))
    with pytest.raises(XraySSLError, match="one shape"):
        energy_inside(np.zeros((4, 4)), np.ones((5, 4)))
    with pytest.raises(XraySSLError, match="no image with a lesion mask"):
        localization_score(np.zeros((2, 4, 4)), np.zeros((2, 4, 4)))
