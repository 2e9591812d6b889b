"""Abnormalities drawn into one bone, each with the mask of exactly where it is.

A lesion is decided once per study (``LesionSpec``: which bone, where along it, how strong)
and drawn into every view of that study, so the views agree. Sizes are relative to the local
bone radius ``R`` (pixels), so a lesion looks alike on a finger film and a humerus film.

``strength`` runs from 1 (obvious: wide gap, big displacement, deep lysis, a plate) to 0
(subtle: hairline gap, faint lysis, a thin wire); the difficulty knob sets it. Conspicuous
lesions also grow beyond the bone-radius scale (``_grow``): a bone is only a few pixels wide
on a 64 px film, and a lesion sized by its radius alone stays a few pixels at any strength.
The knob also sets the mix of kinds (``kind_weights``): metal and periosteal reaction are
common at the easy end, hairline fractures at the hard end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from xrayssl.synth.anatomy import Capsule, Point
from xrayssl.synth.geometry import F32, BoneChords, PxCapsule, bone_chords, rotated_box

KINDS = ("fracture", "hardware", "lytic", "hairline", "periosteal")
# How often each kind occurs at difficulty 0 and at 1 (interpolated between): the easy end
# leans on the kinds that add bright matter (metal, periosteal new bone), the hard end on the
# subtle ones (hairline fractures).
KIND_WEIGHTS_EASY = (0.2, 0.45, 0.1, 0.0, 0.25)
KIND_WEIGHTS_HARD = (0.25, 0.05, 0.2, 0.3, 0.2)
Mask = NDArray[np.bool_]


@dataclass(frozen=True)
class LesionSpec:
    kind: str
    bone: str
    t: float  # where along the bone (0 = proximal end)
    strength: float  # 1 = obvious ... 0 = subtle
    side: float  # +1 or -1: which side of the bone (plate side, displacement, reaction)
    obliquity_deg: float  # angle of a fracture line against the bone's cross-section
    shape: tuple[float, float, float]  # kind-specific uniforms in [0, 1)


def kind_weights(difficulty: float) -> tuple[float, ...]:
    """Probability of each of ``KINDS`` at this difficulty (0 = easiest, 1 = hardest)."""
    return tuple((1 - difficulty) * e + difficulty * h
                 for e, h in zip(KIND_WEIGHTS_EASY, KIND_WEIGHTS_HARD, strict=True))


def sample_lesion(kind: str, bone: Capsule, t: float, difficulty: float,
                  rng: np.random.Generator) -> LesionSpec:
    strength = float(np.clip(1.0 - difficulty + rng.normal(0, 0.08), 0.0, 1.0))
    a, b, c = (float(v) for v in rng.random(3))
    return LesionSpec(kind=kind, bone=bone.name, t=t, strength=strength,
                      side=1.0 if rng.random() < 0.5 else -1.0,
                      obliquity_deg=float(rng.uniform(-35, 35)), shape=(a, b, c))


@dataclass
class LesionDraw:
    cortex: F32
    trabecular: F32
    metal: F32  # chord through metal, pixels
    mask: Mask


def draw_lesion(spec: LesionSpec, cap: PxCapsule, xs: F32, ys: F32) -> LesionDraw:
    """The lesion bone with its lesion, on the crop given by ``xs`` (1, w) and ``ys`` (h, 1)."""
    if spec.kind in ("fracture", "hairline"):
        return _fracture(spec, cap, xs, ys)
    chords = bone_chords(cap, xs, ys)
    if spec.kind == "lytic":
        return _lytic(spec, cap, xs, ys, chords)
    if spec.kind == "periosteal":
        return _periosteal(spec, cap, xs, ys, chords)
    if spec.kind == "hardware":
        metal, mask = _hardware(spec, cap, xs, ys)
        return LesionDraw(chords.cortex, chords.trabecular, metal, mask)
    raise ValueError(f"unknown lesion kind {spec.kind!r}; known: {', '.join(KINDS)}")


def lesion_margin(spec: LesionSpec, cap: PxCapsule) -> float:
    """How far (pixels) beyond the bone's own outline the lesion may draw."""
    return 4.0 * cap.radius(spec.t) + 3.0


def lesion_reach(spec: LesionSpec) -> float:
    """How far (in local bone radii) from its site the lesion may reach: keeps it on the film."""
    s_ = spec.strength
    if spec.kind == "periosteal":
        return (2.8 + 2.5 * s_) * _grow(s_)
    if spec.kind == "lytic":
        return 1.6 * (0.5 + 1.2 * s_) * math.sqrt(_grow(s_)) + 0.5
    if spec.kind == "hardware":
        return (3.0 + 2.4 * s_) * math.sqrt(_grow(s_))
    return 2.0 + 1.6 * s_ * _grow(s_)  # fractures: the line across the bone + shifted fragment


def _grow(strength: float) -> float:
    """Extra size for conspicuous lesions: x2.5 at strength 1, x1.4 at 0.5, ~x1 when subtle.

    Sizes scale with the bone radius, which is only a few pixels on a 64 px film; without this
    the obvious end of the knob would still be a handful of pixels.
    """
    return 1.0 + 3.0 * strength * strength


def _frame(spec: LesionSpec, cap: PxCapsule) -> tuple[Point, Point, Point, float]:
    along, normal = cap.axis()
    return cap.point(spec.t), along, normal, cap.radius(spec.t)


def _fracture(spec: LesionSpec, cap: PxCapsule, xs: F32, ys: F32) -> LesionDraw:
    """A break across the bone; the distal fragment may shift, tilt and override the proximal.

    Fracture line: through ``center``, tilted ``obliquity`` from the cross-section. ``s`` is
    the signed distance from it (positive on the distal side). A hairline fracture is the same
    line, barely open, not displaced, only partly through the bone and only partly lucent.
    """
    s_ = spec.strength
    center, along, normal, radius = _frame(spec, cap)
    phi = math.radians(spec.obliquity_deg)
    line_dir = (math.cos(phi) * normal[0] + math.sin(phi) * along[0],
                math.cos(phi) * normal[1] + math.sin(phi) * along[1])
    line_normal = (-math.sin(phi) * normal[0] + math.cos(phi) * along[0],
                   -math.sin(phi) * normal[1] + math.cos(phi) * along[1])
    rx, ry = xs - np.float32(center[0]), ys - np.float32(center[1])
    s = rx * np.float32(line_normal[0]) + ry * np.float32(line_normal[1])
    proximal = bone_chords(cap, xs, ys)

    if spec.kind == "hairline":
        gap = radius * (0.06 + 0.4 * s_) * _grow(s_) + 0.35
        lucency = 0.4 + 0.6 * s_  # fraction of bone missing inside the line
        across = rx * np.float32(line_dir[0]) + ry * np.float32(line_dir[1])
        # incomplete: from the cortex on ``-side`` across ``reach``, maybe through both cortices
        reach = radius * (0.9 + 1.1 * max(spec.shape[0], s_))
        extent = np.clip(reach - (np.float32(spec.side) * across + radius) + 0.5, 0, 1)
        coverage = np.clip(gap / 2 + 0.5 - np.abs(s), 0, 1) * min(1.0, gap) * extent
        keep = (1 - np.float32(lucency) * coverage).astype(np.float32)
        inside = proximal.dist < proximal.radius + 1.0
        mask = (np.abs(s) < gap / 2 + 1.0) & inside & (extent > 0.5)
        return LesionDraw((proximal.cortex * keep).astype(np.float32),
                          (proximal.trabecular * keep).astype(np.float32),
                          np.zeros_like(proximal.cortex), mask)

    gap = radius * (0.08 + 0.9 * s_) * _grow(s_)
    shift_n = spec.side * radius * (0.05 + 1.6 * s_) * (0.6 + 0.4 * spec.shape[0])
    # override: the fragments overlap along the bone, a brighter band
    shift_a = -radius * 0.4 * s_ * spec.shape[1] * _grow(s_)
    angle = math.radians(spec.side * (1 + 30 * s_) * (0.6 + 0.4 * spec.shape[2]))
    # distal fragment = proximal geometry rotated by ``angle`` about the centre, then shifted:
    # evaluate the unbroken bone at the inverse-transformed coordinates.
    qx = rx - np.float32(shift_n * normal[0] + shift_a * along[0])
    qy = ry - np.float32(shift_n * normal[1] + shift_a * along[1])
    c, sn = math.cos(-angle), math.sin(-angle)
    dxs = (np.float32(c) * qx - np.float32(sn) * qy) + np.float32(center[0])
    dys = (np.float32(sn) * qx + np.float32(c) * qy) + np.float32(center[1])
    distal = bone_chords(cap, dxs.astype(np.float32), dys.astype(np.float32))
    s_distal = ((dxs - np.float32(center[0])) * np.float32(line_normal[0])
                + (dys - np.float32(center[1])) * np.float32(line_normal[1]))
    half = np.float32(gap / 2)
    w_prox = np.clip(-s - half + 0.5, 0, 1)
    w_dist = np.clip(s_distal - half + 0.5, 0, 1)
    pad = max(1.0, 0.2 * radius)
    mask = (((np.abs(s) < half + pad) & (proximal.dist < proximal.radius + 1.0))
            | ((np.abs(s_distal) < half + pad) & (distal.dist < distal.radius + 1.0)))
    cortex = proximal.cortex * w_prox + distal.cortex * w_dist
    trab = proximal.trabecular * w_prox + distal.trabecular * w_dist
    return LesionDraw(cortex.astype(np.float32), trab.astype(np.float32),
                      np.zeros_like(proximal.cortex), mask)


def _lytic(spec: LesionSpec, cap: PxCapsule, xs: F32, ys: F32,
           chords: BoneChords) -> LesionDraw:
    """A geographic lucency: bone (cortex included) destroyed inside an ellipse along the bone.

    Conspicuous lesions are expansile, like a bone cyst or giant-cell tumour: the ellipse is
    wider than the bone, its cortex is gone and a thin shell of new bone outlines it, so it
    shows as a dark hole with a bright rim. Subtle ones are a small, partial loss of density
    inside the bone.
    """
    s_ = spec.strength
    center, along, normal, radius = _frame(spec, cap)
    offset = spec.side * radius * 0.3 * spec.shape[0] * (1 - s_)
    cx, cy = center[0] + offset * normal[0], center[1] + offset * normal[1]
    half_a = radius * (0.5 + 1.2 * s_) * (1 + 0.6 * spec.shape[1]) * math.sqrt(_grow(s_))
    half_n = radius * (0.45 + 0.85 * s_)  # beyond the bone's edge (expansile) when obvious
    depth = 0.3 + 0.68 * s_
    rx, ry = xs - np.float32(cx), ys - np.float32(cy)
    qa = (rx * np.float32(along[0]) + ry * np.float32(along[1])) / np.float32(half_a)
    qn = (rx * np.float32(normal[0]) + ry * np.float32(normal[1])) / np.float32(half_n)
    q = np.sqrt(qa * qa + qn * qn)
    w = np.clip((1.0 - q) / 0.25, 0, 1)
    w = w * w * (3 - 2 * w)  # smoothstep: soft margin of the lesion
    keep = 1 - np.float32(depth) * w
    trab = chords.trabecular * keep
    cortex = chords.cortex * keep
    # the shell: a thin bony rim on the lesion's outline, as thick as a thin cortex
    rim_width = max(0.08, 1.2 / max(half_n, 1.0))
    shell = (np.float32(s_ * radius * 0.5 * cap.depth * cap.density)
             * np.exp(-(((q - 1.0) / np.float32(rim_width)) ** 2)))
    cortex = cortex + shell
    mask = (q < 1.0) & ((chords.dist < chords.radius) | (s_ > 0.3))
    return LesionDraw(cortex.astype(np.float32), trab.astype(np.float32),
                      np.zeros_like(cortex), mask)


def _periosteal(spec: LesionSpec, cap: PxCapsule, xs: F32, ys: F32,
                chords: BoneChords) -> LesionDraw:
    """New bone laid down in a thin layer just off the cortex, along a stretch of one side."""
    s_ = spec.strength
    center, _along, normal, radius = _frame(spec, cap)
    length = math.hypot(cap.p1[0] - cap.p0[0], cap.p1[1] - cap.p0[1]) or 1.0
    half_t = radius * (1.8 + 2.5 * s_ + spec.shape[0]) * _grow(s_) / length
    lift = radius * (0.06 + 0.1 * spec.shape[1] + 0.15 * s_) + 0.3
    # a thin, lighter-than-cortex layer even when obvious: a thick dense cuff looks like a cast
    thick = radius * (0.08 + 0.3 * s_) * math.sqrt(_grow(s_)) + 0.4
    density = 0.25 + 0.35 * s_
    rx, ry = xs - np.float32(center[0]), ys - np.float32(center[1])
    on_side = (rx * np.float32(normal[0]) + ry * np.float32(normal[1])) * np.float32(spec.side) > 0
    taper = np.sqrt(np.clip(1 - np.abs(chords.t - np.float32(spec.t)) / np.float32(half_t), 0, 1))
    inner_r = chords.radius + np.float32(lift)
    outer_r = inner_r + np.float32(thick)
    d2 = chords.dist * chords.dist
    shell = 2 * (np.sqrt(np.maximum(outer_r * outer_r - d2, 0))
                 - np.sqrt(np.maximum(inner_r * inner_r - d2, 0)))
    layer = shell * taper * on_side * np.float32(density * cap.depth * cap.density)
    mask = ((taper > 0.05) & on_side & (chords.dist > inner_r - 1.0)
            & (chords.dist < outer_r + 1.0))
    return LesionDraw((chords.cortex + layer).astype(np.float32), chords.trabecular,
                      np.zeros_like(chords.cortex), mask)


def _hardware(spec: LesionSpec, cap: PxCapsule, xs: F32, ys: F32) -> tuple[F32, Mask]:
    """Orthopaedic metal: a plate with screws, loose screws, or a thin Kirschner wire."""
    s_ = spec.strength
    center, along, normal, radius = _frame(spec, cap)
    side = spec.side
    metal = np.zeros(np.broadcast_shapes(xs.shape, ys.shape), dtype=np.float32)
    choice = spec.shape[0]
    p_plate = 0.15 + 0.85 * s_

    def add(box: F32, chord: float) -> None:
        nonlocal metal
        metal = np.maximum(metal, box * np.float32(chord))

    def at(a: float, n: float) -> Point:
        return (center[0] + a * along[0] + n * normal[0], center[1] + a * along[1] + n * normal[1])

    if choice < p_plate:
        plate_w = radius * 0.35 * _grow(s_) + 0.8
        half_len = radius * (1.6 + 2.2 * s_) * math.sqrt(_grow(s_))
        add(rotated_box(xs, ys, at(0, side * (radius + plate_w / 2)), along, half_len,
                        plate_w / 2), 0.6 * radius)
        n_screws = 2 + round(3 * s_ * spec.shape[1])
        for k in range(n_screws):
            a = -half_len * 0.8 + 1.6 * half_len * (k + 0.5) / n_screws
            far, near = -side * radius * 1.08, side * (radius + plate_w)
            add(rotated_box(xs, ys, at(a, (far + near) / 2), normal, abs(near - far) / 2,
                            radius * 0.16 + 0.4), 0.35 * radius)
            add(rotated_box(xs, ys, at(a, near + side * radius * 0.1), normal, radius * 0.14 + 0.4,
                            radius * 0.3 + 0.5), 0.4 * radius)
    else:
        tilt = math.radians(25 + 40 * spec.shape[1]) * side
        direction = (math.cos(tilt) * normal[0] + math.sin(tilt) * along[0],
                     math.cos(tilt) * normal[1] + math.sin(tilt) * along[1])
        if choice < p_plate + (1 - p_plate) / 2:  # one or two lag screws with heads
            for k in range(1 + int(spec.shape[2] < s_)):
                c = at(radius * 1.2 * k, 0)
                add(rotated_box(xs, ys, c, direction, radius * 1.25, radius * 0.15 + 0.4),
                    0.35 * radius)
                head = (c[0] + direction[0] * radius * 1.3, c[1] + direction[1] * radius * 1.3)
                add(rotated_box(xs, ys, head, direction, radius * 0.15 + 0.4, radius * 0.3 + 0.4),
                    0.5 * radius)
        else:  # Kirschner wire: shorter and thinner (less bright) when subtle
            add(rotated_box(xs, ys, center, direction, radius * (1.2 + 2.4 * s_),
                            radius * (0.06 + 0.1 * s_) + 0.3), (0.04 + 0.3 * s_) * radius)
    mask = metal > 0.05 * float(metal.max(initial=0.0))
    return metal, mask
