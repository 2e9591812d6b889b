"""Capsules in pixel space: where a view puts them, and the chord the beam crosses in each.

Everything here works on a crop (``Crop``) of the image so that a small bone costs only its
own bounding box, which keeps rendering at 256 px in the millisecond range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from xrayssl.synth.anatomy import FLARE_WIDTH, Capsule, Point, axis_point, flared_radius

F32 = NDArray[np.float32]
MARROW_DENSITY = 0.45  # shaft interior relative to trabecular bone at the ends


@dataclass(frozen=True)
class ViewTransform:
    """Limb centimetres -> image pixels: centre, optional mirror (laterality), rotate, scale."""

    center_cm: Point
    center_px: Point
    px_per_cm: float
    angle_rad: float
    mirror: bool

    def to_px(self, p: Point) -> Point:
        x, y = p[0] - self.center_cm[0], p[1] - self.center_cm[1]
        if self.mirror:
            x = -x
        c, s = math.cos(self.angle_rad), math.sin(self.angle_rad)
        return (self.center_px[0] + self.px_per_cm * (c * x - s * y),
                self.center_px[1] + self.px_per_cm * (s * x + c * y))


@dataclass(frozen=True)
class PxCapsule:
    """A capsule placed in the image; lengths in pixels."""

    p0: Point
    p1: Point
    r0: float
    r1: float
    flare0: float
    flare1: float
    cortex: float
    depth: float
    density: float
    flat_ends: float = 1.0

    @classmethod
    def place(cls, c: Capsule, view: ViewTransform) -> PxCapsule:
        k = view.px_per_cm
        return cls(view.to_px(c.p0), view.to_px(c.p1), c.r0 * k, c.r1 * k, c.flare0 * k,
                   c.flare1 * k, c.cortex, c.depth, c.density, c.flat_ends)

    @property
    def max_radius(self) -> float:
        return max(self.r0, self.r1) + max(self.flare0, self.flare1)

    def point(self, t: float) -> Point:
        return axis_point(self.p0, self.p1, t)

    def radius(self, t: float) -> float:
        return flared_radius(self.r0, self.r1, self.flare0, self.flare1, t)

    def axis(self) -> tuple[Point, Point]:
        """Unit vector along the bone (p0 -> p1) and the unit normal to it."""
        dx, dy = self.p1[0] - self.p0[0], self.p1[1] - self.p0[1]
        n = math.hypot(dx, dy) or 1.0
        return (dx / n, dy / n), (-dy / n, dx / n)


@dataclass(frozen=True)
class Crop:
    """A rectangle of the image with its pixel-centre coordinates, ready for broadcasting."""

    y0: int
    y1: int
    x0: int
    x1: int

    @classmethod
    def around(cls, points: list[Point], margin: float, height: int, width: int) -> Crop | None:
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        x0 = max(0, math.floor(min(xs) - margin))
        x1 = min(width, math.ceil(max(xs) + margin) + 1)
        y0 = max(0, math.floor(min(ys) - margin))
        y1 = min(height, math.ceil(max(ys) + margin) + 1)
        if x0 >= x1 or y0 >= y1:
            return None
        return cls(y0, y1, x0, x1)

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    def grid(self) -> tuple[F32, F32]:
        """Pixel-centre coordinates: xs (1, w), ys (h, 1)."""
        xs = np.arange(self.x0, self.x1, dtype=np.float32)[None, :] + np.float32(0.5)
        ys = np.arange(self.y0, self.y1, dtype=np.float32)[:, None] + np.float32(0.5)
        return xs, ys


def crop_for(cap: PxCapsule, margin: float, height: int, width: int) -> Crop | None:
    return Crop.around([cap.p0, cap.p1], cap.max_radius + margin, height, width)


@dataclass
class BoneChords:
    """Per-pixel chords (pixels) through one bone, and where along it each pixel lies."""

    cortex: F32  # chord through the cortical shell
    trabecular: F32  # chord through the interior, weighted marrow (shaft) -> trabecular (ends)
    t: F32  # position along the axis, 0..1
    dist: F32  # distance from the axis
    radius: F32  # outer radius at t


def bone_chords(cap: PxCapsule, xs: F32, ys: F32) -> BoneChords:
    """Chords of the beam through a hollow capsule: cortex = outer chord - inner chord.

    The cortical shell thins towards the flared ends (epiphyses are mostly trabecular),
    and the interior changes from fatty marrow (shaft) to trabecular bone (ends).
    """
    ax, ay = cap.p1[0] - cap.p0[0], cap.p1[1] - cap.p0[1]
    length2 = ax * ax + ay * ay
    rx, ry = xs - np.float32(cap.p0[0]), ys - np.float32(cap.p0[1])
    if length2 < 1e-6:
        t = np.zeros(np.broadcast_shapes(rx.shape, ry.shape), dtype=np.float32)
        d2 = rx * rx + ry * ry
    else:
        t_raw = (rx * np.float32(ax) + ry * np.float32(ay)) / np.float32(length2)
        t = np.clip(t_raw, 0, 1)
        dx = rx - t * np.float32(ax)
        dy = ry - t * np.float32(ay)
        d2 = dx * dx + dy * dy
        if cap.flat_ends != 1.0:  # beyond an end, count the axial overshoot as longer
            over2 = (t_raw - t) ** 2 * np.float32(length2)
            d2 = d2 + np.float32(cap.flat_ends**2 - 1) * over2
    w = np.float32(FLARE_WIDTH)
    e0 = np.exp(-((t / w) ** 2)) if cap.flare0 > 0 else np.zeros_like(t)
    e1 = np.exp(-(((1 - t) / w) ** 2)) if cap.flare1 > 0 else np.zeros_like(t)
    radius = (np.float32(cap.r0) + np.float32(cap.r1 - cap.r0) * t
              + np.float32(cap.flare0) * e0 + np.float32(cap.flare1) * e1)
    # a short bone (carpal, no flares) is trabecular throughout
    endness = np.maximum(e0, e1) if cap.flare0 > 0 or cap.flare1 > 0 else np.ones_like(t)
    inner_r = radius * (1 - np.float32(cap.cortex) * (1 - 0.7 * endness))
    depth2 = np.float32(2 * cap.depth)
    outer = depth2 * np.sqrt(np.maximum(radius * radius - d2, 0))
    inner = depth2 * np.sqrt(np.maximum(inner_r * inner_r - d2, 0))
    marrow = np.float32(MARROW_DENSITY)
    return BoneChords(
        cortex=((outer - inner) * np.float32(cap.density)).astype(np.float32),
        trabecular=(inner * (marrow + (1 - marrow) * endness)
                    * np.float32(cap.density)).astype(np.float32),
        t=t.astype(np.float32),
        dist=np.sqrt(d2).astype(np.float32),
        radius=radius.astype(np.float32),
    )


def tissue_chord(cap: PxCapsule, xs: F32, ys: F32, inner_fraction: float) -> tuple[F32, F32]:
    """Chords through a soft-tissue capsule (whole) and its muscle core (``inner_fraction``)."""
    ax, ay = cap.p1[0] - cap.p0[0], cap.p1[1] - cap.p0[1]
    length2 = max(ax * ax + ay * ay, 1e-6)
    rx, ry = xs - np.float32(cap.p0[0]), ys - np.float32(cap.p0[1])
    t = np.clip((rx * np.float32(ax) + ry * np.float32(ay)) / np.float32(length2), 0, 1)
    dx = rx - t * np.float32(ax)
    dy = ry - t * np.float32(ay)
    d2 = dx * dx + dy * dy
    radius = np.float32(cap.r0) + np.float32(cap.r1 - cap.r0) * t
    depth2 = np.float32(2 * cap.depth)
    whole = depth2 * np.sqrt(np.maximum(radius * radius - d2, 0))
    core_r = radius * np.float32(inner_fraction)
    core = depth2 * np.sqrt(np.maximum(core_r * core_r - d2, 0))
    return whole.astype(np.float32), core.astype(np.float32)


def rotated_box(xs: F32, ys: F32, center: Point, along: Point, half_len: float,
                half_width: float, soft: float = 0.7) -> F32:
    """Coverage (0..1, soft edges ``soft`` px) of a rectangle aligned with ``along``."""
    rx, ry = xs - np.float32(center[0]), ys - np.float32(center[1])
    a = rx * np.float32(along[0]) + ry * np.float32(along[1])
    n = -rx * np.float32(along[1]) + ry * np.float32(along[0])
    inside_a = np.clip((np.float32(half_len) - np.abs(a)) / np.float32(soft) + 0.5, 0, 1)
    inside_n = np.clip((np.float32(half_width) - np.abs(n)) / np.float32(soft) + 0.5, 0, 1)
    coverage: F32 = (inside_a * inside_n).astype(np.float32)
    return coverage
