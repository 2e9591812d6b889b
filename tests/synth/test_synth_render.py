"""The radiograph simulator: projection physics, lesions and their masks, the difficulty knob."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from xrayssl.data.records import BODY_PARTS
from xrayssl.errors import XraySSLError
from xrayssl.synth.anatomy import BASE_LIMB, Capsule, Physique, posed_limb
from xrayssl.synth.geometry import Crop, PxCapsule, ViewTransform, bone_chords
from xrayssl.synth.lesions import KINDS, draw_lesion, sample_lesion
from xrayssl.synth.render import (
    MU_CORTEX,
    MU_METAL,
    MU_TRABECULAR,
    _bone_maps,
    _tissue_map,
    render_view,
)
from xrayssl.synth.study import FINGERS, lesion_site, parse_difficulty


def _view(px_per_cm: float = 4.0) -> ViewTransform:
    return ViewTransform(center_cm=(0.0, 0.0), center_px=(32.0, 32.0), px_per_cm=px_per_cm,
                         angle_rad=0.0, mirror=False)


def test_chord_through_a_cylinder_is_the_analytic_length() -> None:
    """Mid-shaft, a capsule is a cylinder: chord = 2 sqrt(r^2 - d^2); cortex + interior = it."""
    bone = Capsule("test", (0.0, -6.0), (0.0, 6.0), 2.0, 2.0, flare0=0.5, flare1=0.5, cortex=0.3)
    cap = PxCapsule.place(bone, _view())
    crop = Crop(0, 64, 0, 64)
    xs, ys = crop.grid()
    chords = bone_chords(cap, xs, ys)
    r = 8.0  # 2 cm at 4 px/cm
    inner = r * 0.7
    for d in (0.5, 3.5, 6.5, 7.5):
        x = int(32 + d - 0.5)  # pixel whose centre is d from the axis
        whole = 2 * math.sqrt(r * r - d * d)
        hollow = 2 * math.sqrt(max(inner * inner - d * d, 0))
        assert chords.cortex[32, x] == pytest.approx(whole - hollow, rel=1e-4)
    assert chords.cortex[32, 32 + 9] == 0  # outside the bone
    # the cortex seen edge-on (tangential) is longer than straight through the middle
    assert chords.cortex[32, 32 + 6] > chords.cortex[32, 32]


def test_line_integral_orders_air_soft_tissue_bone_and_the_film_shows_it() -> None:
    """Beer-Lambert: p = 0 in air, soft tissue less than bone; brighter film where p is larger."""
    limb = posed_limb(Physique())
    view = ViewTransform(center_cm=(0.4, 43.0), center_px=(48.0, 64.0), px_per_cm=4.0,
                         angle_rad=0.0, mirror=False)
    soft = _tissue_map(limb, view, 128, 96)
    cortex, trab, metal, mask = _bone_maps(limb, view, None, 128, 96)
    p = soft + MU_CORTEX * cortex + MU_TRABECULAR * trab
    radius_x = view.to_px(limb.bone("radius").point(0.5))[0]
    skin_x = view.to_px((3.2, 43.0))[0]  # forearm soft tissue, lateral to the radius
    assert p[64, 2] == 0  # air
    assert 0 < p[64, round(skin_x)] < p[64, round(radius_x)]
    assert not metal.any() and not mask.any()
    out = render_view("forearm", Physique(), 0, False, None, "3", 128,
                      np.random.default_rng(0))
    film = out.image.astype(float)
    assert np.percentile(film, 99) - np.percentile(film, 1) > 150


@pytest.mark.parametrize("part", BODY_PARTS)
def test_every_kind_of_lesion_renders_on_every_part_with_its_mask(part: str) -> None:
    for k, kind in enumerate(KINDS):
        for finger in (FINGERS[k % len(FINGERS)],):
            rng = np.random.default_rng([k, BODY_PARTS.index(part)])
            bone, t = lesion_site(part, finger, rng)
            lesion = sample_lesion(kind, bone, t, 0.5, rng)
            out = render_view(part, Physique.sample(rng), k, bool(k % 2), lesion, finger, 64, rng)
            assert out.mask.shape == out.image.shape
            assert out.mask.any(), (part, kind)
            ys, xs = np.nonzero(out.mask)
            assert ys.min() > 0 and ys.max() < out.mask.shape[0] - 1
            assert xs.min() > 0 and xs.max() < out.mask.shape[1] - 1
            normal = render_view(part, Physique(), k, False, None, finger, 64, rng)
            assert not normal.mask.any()


def test_metal_is_the_brightest_thing_on_the_film() -> None:
    rng = np.random.default_rng(0)
    lesion = sample_lesion("hardware", BASE_LIMB.bone("radius"), 0.5, 0.0, rng)
    out = render_view("forearm", Physique(), 0, False, lesion, "3", 128, np.random.default_rng(1))
    assert np.median(out.image[out.mask > 0]) >= np.percentile(out.image, 99) - 5


@pytest.mark.parametrize("kind", KINDS)
def test_difficulty_knob_makes_lesions_less_conspicuous(kind: str) -> None:
    """Same bone, same lesion shape: the attenuation the lesion changes shrinks with difficulty."""
    bone = BASE_LIMB.bone("radius")
    view = ViewTransform(center_cm=bone.point(0.5), center_px=(64.0, 64.0), px_per_cm=8.0,
                         angle_rad=0.3, mirror=False)
    cap = PxCapsule.place(bone, view)
    xs, ys = Crop(0, 128, 0, 128).grid()
    base = bone_chords(cap, xs, ys)

    def change(difficulty: float) -> float:
        lesion = sample_lesion(kind, bone, 0.5, difficulty, np.random.default_rng(3))
        drawn = draw_lesion(lesion, cap, xs, ys)
        delta = (MU_CORTEX * (drawn.cortex - base.cortex)
                 + MU_TRABECULAR * (drawn.trabecular - base.trabecular) + MU_METAL * drawn.metal)
        assert drawn.mask.any()
        return float(np.abs(delta).sum())

    assert change(0.05) > change(0.5) > change(0.95) > 0


@pytest.mark.parametrize("part", ["forearm", "finger", "shoulder"])
def test_a_normal_film_is_framed_like_its_abnormal_twin(part: str) -> None:
    """A big lesion zooms the film out so it fits; a normal study is framed by the lesion it
    would have had, so zoom and position are the same for both labels and only the lesion
    differs (no scale cue to the label). Metal leaves the film's window alone, so outside the
    lesion the two films are the same to the grey level."""
    rng = np.random.default_rng(4)
    bone, t = lesion_site(part, "3", rng)
    lesion = sample_lesion("hardware", bone, t, 0.0, rng)
    sick = render_view(part, Physique(), 0, False, lesion, "3", 128, np.random.default_rng(5))
    framed = render_view(part, Physique(), 0, False, None, "3", 128, np.random.default_rng(5),
                         framing=lesion)
    unframed = render_view(part, Physique(), 0, False, None, "3", 128, np.random.default_rng(5))
    assert framed.mask.max() == 0 and sick.mask.max() > 0
    near = cv2.dilate(sick.mask, np.ones((9, 9), np.uint8)) > 0
    diff = np.abs(sick.image.astype(int) - framed.image.astype(int))
    assert diff[~near].mean() < 0.1 and diff[near].mean() > 20
    moved = np.abs(unframed.image.astype(int) - framed.image.astype(int))
    assert moved[~near].mean() > 4 * diff[~near].mean()


def test_same_generator_same_film() -> None:
    a = render_view("hand", Physique(), 1, True, None, "2", 96, np.random.default_rng(9))
    b = render_view("hand", Physique(), 1, True, None, "2", 96, np.random.default_rng(9))
    c = render_view("hand", Physique(), 1, True, None, "2", 96, np.random.default_rng(10))
    assert np.array_equal(a.image, b.image)
    assert not np.array_equal(a.image, c.image)


def test_difficulty_words_and_numbers() -> None:
    assert parse_difficulty("easy") < parse_difficulty("medium") < parse_difficulty("HARD")
    assert parse_difficulty("0.3") == 0.3
    assert parse_difficulty(1) == 1.0
    for bad in ("extreme", "-0.1", "nan", 2.0):
        with pytest.raises(XraySSLError):
            parse_difficulty(bad)
