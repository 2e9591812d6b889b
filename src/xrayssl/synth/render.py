"""One radiograph: Beer-Lambert projection of the posed limb, then what a detector does to it.

Line integral ``p = sum(mu * chord)`` over soft tissue (fat shell, muscle core), cortical and
trabecular bone (textured) and metal; photons ``N = N0 * exp(-p)`` with quantum noise;
detector blur; a film-like window (bright = attenuating); edge enhancement; collimation
shutters; a burnt-in lead marker (L/R). The lesion mask is rasterised on the same grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from xrayssl.synth.anatomy import FIELDS, VIEWS, Field, Limb, Physique, ViewKind, finger_field
from xrayssl.synth.anatomy import posed_limb as pose_limb
from xrayssl.synth.geometry import (
    F32,
    PxCapsule,
    ViewTransform,
    bone_chords,
    crop_for,
    tissue_chord,
)
from xrayssl.synth.lesions import LesionSpec, draw_lesion, lesion_margin, lesion_reach

U8 = NDArray[np.uint8]

# Linear attenuation (1/cm) at extremity energies (~55 kVp), rounded; metal is steel-like.
MU_FAT = 0.17
MU_MUSCLE = 0.27
MU_CORTEX = 1.05
MU_TRABECULAR = 0.38
MU_METAL = 20.0
MUSCLE_CORE = 0.8  # muscle fills this fraction of a limb's radius; the rest is fat


@dataclass(frozen=True)
class Rendered:
    image: U8  # (H, W)
    mask: U8  # (H, W) 0/255
    view: str


def _tissue_map(limb: Limb, view: ViewTransform, height: int, width: int) -> F32:
    """Soft-tissue line integral (pixels x 1/cm): overlapping masses take the thickest."""
    soft = np.zeros((height, width), dtype=np.float32)
    air = np.zeros((height, width), dtype=np.float32)
    for tissue in limb.tissue:
        cap = PxCapsule.place(tissue, view)
        crop = crop_for(cap, 1.0, height, width)
        if crop is None:
            continue
        xs, ys = crop.grid()
        whole, core = tissue_chord(cap, xs, ys, MUSCLE_CORE)
        if tissue.density < 0:  # air inside the body (lung) replaces tissue
            air[crop.slices] += np.float32(-tissue.density * MU_MUSCLE) * whole
        else:
            p = np.float32(MU_FAT) * whole + np.float32(MU_MUSCLE - MU_FAT) * core
            np.maximum(soft[crop.slices], p, out=soft[crop.slices])
    line_integral: F32 = np.maximum(soft - air, 0).astype(np.float32)
    return line_integral


def _bone_maps(limb: Limb, view: ViewTransform, lesion: LesionSpec | None, height: int,
               width: int, draw: bool = True) -> tuple[F32, F32, F32, NDArray[np.bool_]]:
    """Chords (pixels) through cortex, trabecular interior and metal; the lesion mask.

    ``draw=False`` gives the bones without the lesion but still its mask (for framing).
    """
    cortex = np.zeros((height, width), dtype=np.float32)
    trab = np.zeros((height, width), dtype=np.float32)
    metal = np.zeros((height, width), dtype=np.float32)
    mask = np.zeros((height, width), dtype=bool)
    for bone in limb.bones:
        cap = PxCapsule.place(bone, view)
        if lesion is not None and bone.name == lesion.bone:
            crop = crop_for(cap, lesion_margin(lesion, cap), height, width)
            if crop is None:
                continue
            xs, ys = crop.grid()
            drawn = draw_lesion(lesion, cap, xs, ys)
            mask[crop.slices] |= drawn.mask
            if draw:
                cortex[crop.slices] += drawn.cortex
                trab[crop.slices] += drawn.trabecular
                metal[crop.slices] += drawn.metal
            else:  # chords are zero off the bone, so the wider crop changes nothing
                chords = bone_chords(cap, xs, ys)
                cortex[crop.slices] += chords.cortex
                trab[crop.slices] += chords.trabecular
            continue
        crop = crop_for(cap, 1.0, height, width)
        if crop is None:
            continue
        xs, ys = crop.grid()
        chords = bone_chords(cap, xs, ys)
        cortex[crop.slices] += chords.cortex
        trab[crop.slices] += chords.trabecular
    return cortex, trab, metal, mask


def _bandpass(rng: np.random.Generator, height: int, width: int, fine: float,
              coarse: float) -> F32:
    """Trabecular texture: white noise band-passed to the scale of the trabeculae."""
    noise = rng.standard_normal((height, width), dtype=np.float32)
    a = cv2.GaussianBlur(noise, (0, 0), fine)
    b = cv2.GaussianBlur(noise, (0, 0), coarse)
    band = a - b
    return (band / (float(band.std()) + 1e-6)).astype(np.float32)


@dataclass(frozen=True)
class Acquisition:
    """How this film was taken and processed; sampled per view."""

    photons: float  # N0 per pixel at 256 px
    heel: float  # exposure gradient across the film (anode heel effect)
    blur_px: float  # detector blur sigma at 256 px
    gamma: float
    window_low: float  # fraction of the window's top
    window_high: float  # scale of the window's top
    sharpen: float
    background: float
    texture: float
    collimate: bool
    shutter_bright: bool
    shutter_level: float
    shutter_margins: tuple[float, float, float, float]  # left, top, right, bottom fractions
    shutter_angle_deg: float

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Acquisition:
        bright = bool(rng.random() < 0.55)
        return cls(
            photons=float(np.exp(rng.uniform(np.log(1500), np.log(20000)))),
            heel=float(rng.uniform(-0.2, 0.2)),
            blur_px=float(rng.uniform(0.5, 1.4)),
            gamma=float(rng.uniform(0.65, 1.2)),
            window_low=float(rng.uniform(-0.08, 0.12)),
            window_high=float(rng.uniform(0.85, 1.2)),
            sharpen=float(rng.uniform(0.0, 0.9)),
            background=float(rng.uniform(0.0, 0.07)),
            texture=float(rng.uniform(0.1, 0.22)),
            collimate=bool(rng.random() < 0.75),
            shutter_bright=bright,
            shutter_level=float(rng.uniform(0.6, 0.97) if bright else rng.uniform(0.0, 0.06)),
            shutter_margins=tuple(float(v) for v in rng.uniform(0.0, 0.12, 4)),  # type: ignore[arg-type]
            shutter_angle_deg=float(rng.normal(0, 1.5)),
        )


@dataclass(frozen=True)
class Pose:
    """Where the limb lands on this film."""

    kind: ViewKind
    spread: float
    flex_deg: float
    zoom: float
    angle_deg: float
    shift: tuple[float, float]  # fraction of width / height
    aspect: float

    @classmethod
    def sample(cls, part: str, view_index: int, rng: np.random.Generator) -> Pose:
        kinds = VIEWS[part]
        kind = kinds[view_index % len(kinds)]
        lo, hi = FIELDS[part].aspect
        return cls(kind=kind,
                   spread=float(np.clip(kind.spread + rng.normal(0, 0.08), 0.15, 1.05)),
                   flex_deg=float(kind.flex_deg + rng.normal(0, 8) * (kind.flex_deg > 0)),
                   zoom=float(rng.uniform(0.85, 1.12)),
                   angle_deg=float(kind.turn_deg + rng.normal(0, 7)),
                   shift=(float(rng.uniform(-0.07, 0.07)), float(rng.uniform(-0.07, 0.07))),
                   aspect=float(rng.uniform(lo, hi)))


def _image_shape(size: int, aspect: float) -> tuple[int, int]:
    if aspect <= 1:
        return size, max(8, round(size * aspect))
    return max(8, round(size / aspect)), size


def _place(field: Field, pose: Pose, mirror: bool, height: int, width: int,
           keep_in_view: tuple[float, float] | None, reach_cm: float = 0.0,
           shrink: float = 1.0) -> ViewTransform:
    """The view transform; shifted when needed so the lesion site lands well inside the film.

    ``reach_cm``: how far the lesion extends from its site; the site stays at least that far
    (and at least a fifth of the film) from the edges where the film is big enough for it.
    """
    view = ViewTransform(
        center_cm=field.center,
        center_px=(width * (0.5 + pose.shift[0]), height * (0.5 + pose.shift[1])),
        px_per_cm=height / field.height_cm * pose.zoom * shrink,
        angle_rad=math.radians(field.angle_deg + pose.angle_deg),
        mirror=mirror,
    )
    if keep_in_view is None:
        return view
    x, y = view.to_px(keep_in_view)
    margin = min(max(0.2 * min(height, width), reach_cm * view.px_per_cm + 2.0),
                 0.5 * min(height, width))
    dx = min(max(x, margin), width - margin) - x
    dy = min(max(y, margin), height - margin) - y
    return ViewTransform(view.center_cm, (view.center_px[0] + dx, view.center_px[1] + dy),
                         view.px_per_cm, view.angle_rad, mirror)


def _shutter(acq: Acquisition, height: int, width: int,
             must_show: tuple[int, int, int, int] | None) -> F32:
    """Collimated field (1 inside, 0 outside, soft penumbra), never cutting the lesion."""
    if not acq.collimate:
        return np.ones((height, width), dtype=np.float32)
    left, top, right, bottom = acq.shutter_margins
    x0, x1 = left * width, width * (1 - right)
    y0, y1 = top * height, height * (1 - bottom)
    if must_show is not None:
        my0, my1, mx0, mx1 = must_show
        pad = 0.05 * min(height, width)
        x0, x1 = min(x0, mx0 - pad), max(x1, mx1 + pad)
        y0, y1 = min(y0, my0 - pad), max(y1, my1 + pad)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    angle = math.radians(acq.shutter_angle_deg)
    xs = np.arange(width, dtype=np.float32)[None, :] + np.float32(0.5 - cx)
    ys = np.arange(height, dtype=np.float32)[:, None] + np.float32(0.5 - cy)
    u = xs * np.float32(math.cos(angle)) + ys * np.float32(math.sin(angle))
    v = -xs * np.float32(math.sin(angle)) + ys * np.float32(math.cos(angle))
    edge = max(0.6, 0.004 * max(height, width))
    inside_u = np.clip(((x1 - x0) / 2 - np.abs(u)) / edge + 0.5, 0, 1)
    inside_v = np.clip(((y1 - y0) / 2 - np.abs(v)) / edge + 0.5, 0, 1)
    return (inside_u * inside_v).astype(np.float32)


def _marker(image: F32, letter: str, rng: np.random.Generator,
            avoid: tuple[int, int, int, int] | None, field: F32) -> None:
    """Burn in a lead laterality marker in a corner of the exposed field, away from the lesion."""
    height, width = image.shape
    scale = min(height, width) / 256 * float(rng.uniform(0.9, 1.5))
    thickness = max(1, round(2.2 * scale))
    font = cv2.FONT_HERSHEY_DUPLEX if rng.random() < 0.5 else cv2.FONT_HERSHEY_SIMPLEX
    (tw, th), _ = cv2.getTextSize(letter, font, scale, thickness)
    exposed = _bbox(field > 0.5)
    if exposed is None:
        return
    fy0, fy1, fx0, fx1 = exposed[0], exposed[1] - 1, exposed[2], exposed[3] - 1
    pad = max(2, round(0.04 * min(height, width)))
    corners = [(fx0 + pad, fy0 + pad + th), (fx1 - pad - tw, fy0 + pad + th),
               (fx0 + pad, fy1 - pad), (fx1 - pad - tw, fy1 - pad)]
    order = [int(i) for i in rng.permutation(4)]

    def clear(corner: tuple[int, int]) -> bool:
        if avoid is None:
            return True
        x, y = corner
        ay0, ay1, ax0, ax1 = avoid
        return x + tw + 3 < ax0 or x - 3 > ax1 or y + 3 < ay0 or y - th - 3 > ay1

    choice = next((corners[i] for i in order if clear(corners[i])), None)
    if choice is None:
        return
    canvas = np.zeros((height, width), dtype=np.uint8)
    cv2.putText(canvas, letter, (int(choice[0]), int(choice[1])), font, scale, 255, thickness,
                cv2.LINE_AA)
    if rng.random() < 0.35:  # some markers sit in a lead frame
        cv2.rectangle(canvas, (int(choice[0]) - 2, int(choice[1]) - th - 3),
                      (int(choice[0]) + tw + 2, int(choice[1]) + 3), 255, max(1, thickness // 2))
    ink = canvas.astype(np.float32) / 255 * np.float32(rng.uniform(0.85, 1.0))
    np.maximum(image, ink, out=image)


def _bbox(mask: NDArray[np.bool_]) -> tuple[int, int, int, int] | None:
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def render_view(part: str, physique: Physique, view_index: int, mirror: bool,
                lesion: LesionSpec | None, finger: str, size: int,
                rng: np.random.Generator, framing: LesionSpec | None = None) -> Rendered:
    """Render one view of one study. ``rng`` is this view's own generator.

    The film is framed around ``lesion`` (shifted, and zoomed out when it is big, so that all
    of it shows; shutters and marker kept off it). A normal study passes the lesion it would
    have had as ``framing``: it is framed the same way but not drawn, so framing, zoom and
    marker position are no cue to the label.
    """
    pose = Pose.sample(part, view_index, rng)
    acq = Acquisition.sample(rng)
    limb = pose_limb(physique, spread=pose.spread, flex_deg=pose.flex_deg)
    field = finger_field(limb, finger) if part == "finger" else FIELDS[part]
    height, width = _image_shape(size, pose.aspect)
    frame = lesion if lesion is not None else framing
    site, reach_cm = None, 0.0
    if frame is not None:
        site = limb.bone(frame.bone).point(frame.t)
        reach_cm = lesion_reach(frame) * limb.bone(frame.bone).radius(frame.t)
    shrink = 1.0
    for _ in range(4):  # a big lesion on a narrow film: step back until it fits inside
        view = _place(field, pose, mirror, height, width, site, reach_cm, shrink)
        cortex, trab, metal, mask = _bone_maps(limb, view, frame, height, width,
                                               draw=lesion is not None)
        if not (mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any()):
            break
        shrink *= 0.85
    soft = _tissue_map(limb, view, height, width)
    scale = 256.0 / size
    texture = np.clip(1 + np.float32(acq.texture) * _bandpass(rng, height, width, 1.0 / scale,
                                                              3.0 / scale), 0.4, 1.6)
    to_cm = np.float32(1.0 / view.px_per_cm)
    p_clean = (soft + np.float32(MU_CORTEX) * cortex
               + np.float32(MU_TRABECULAR) * trab * texture) * to_cm  # (H, W) line integral
    p = p_clean + np.float32(MU_METAL) * metal * to_cm

    # quantum noise: fewer photons behind bone and metal -> noisier there
    ramp = np.linspace(1 - acq.heel, 1 + acq.heel, width, dtype=np.float32)[None, :]
    n0 = np.float32(acq.photons * scale * scale) * ramp
    counts = n0 * np.exp(-np.minimum(p, 8))
    counts = counts + np.sqrt(counts) * rng.standard_normal((height, width), dtype=np.float32)
    p_noisy = -np.log(np.maximum(counts, 0.5) / n0)
    p_noisy = cv2.GaussianBlur(p_noisy, (0, 0), max(0.3, acq.blur_px / scale))

    top = float(np.quantile(p_clean[::2, ::2], 0.995)) * acq.window_high + 1e-3
    low = acq.window_low * top
    v = np.clip((p_noisy - np.float32(low)) / np.float32(top - low), 0, 1) ** np.float32(acq.gamma)
    if acq.sharpen > 0.05:
        v = v + np.float32(acq.sharpen) * (v - cv2.GaussianBlur(v, (0, 0), 3.0 / scale))
    v = np.float32(acq.background) + np.float32(1 - acq.background) * np.clip(v, 0, 1)

    lesion_box = _bbox(mask)
    shutter = _shutter(acq, height, width, lesion_box)
    outside = np.float32(acq.shutter_level) + rng.normal(0, 0.01, (height, width)).astype(
        np.float32)
    v = shutter * v + (1 - shutter) * outside
    mask &= shutter > 0.5
    _marker(v, "L" if mirror else "R", rng, lesion_box, shutter)
    image = np.clip(v * 255 + 0.5, 0, 255).astype(np.uint8)
    if lesion is None:  # the mask only framed the film: a normal film has no lesion
        mask = np.zeros_like(mask)
    return Rendered(image=image, mask=(mask.astype(np.uint8) * 255), view=pose.kind.name)
