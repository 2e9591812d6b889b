"""An upper limb, shoulder to fingertips, built from capsules measured in centimetres.

One limb model serves all seven MURA body parts: a body part is a field of view on it
(``FIELDS``), so neighbouring anatomy shows at the edges the way it does on real films.
Coordinates: x points laterally (thumb side), y points distally (down the arm); the
humeral head sits near the origin. A capsule is a segment with a radius that may taper and
flare at the ends (epiphyses), seen as a solid of revolution: the beam crosses a chord of
length ``2 * depth * sqrt(r^2 - d^2)`` at distance ``d`` from the axis.

Views change the limb, not only the camera: ``spread`` squeezes the bones of the arm
towards the limb axis (lateral projections superimpose radius and ulna, or the fingers) and
``flex`` bends the elbow (a lateral elbow is taken flexed at about 90 degrees).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from xrayssl.data.records import BODY_PARTS

Point = tuple[float, float]

ELBOW_CENTER: Point = (0.2, 30.9)  # flexion pivot, between capitulum and radial head
LIMB_AXIS_X = 0.3  # spread squeezes x towards this line


@dataclass(frozen=True)
class Capsule:
    """One bone (or one mass of soft tissue) as a tapered, flared capsule.

    ``group``: "trunk" (never moved by views), "arm" (spread only), "fore" (spread and
    elbow flexion). ``lesion_range``: the span of ``t`` (0 at p0, 1 at p1) where a lesion may
    be placed, or None when this structure never carries one.
    """

    name: str
    p0: Point
    p1: Point
    r0: float
    r1: float
    flare0: float = 0.0
    flare1: float = 0.0
    cortex: float = 0.3  # cortical shell, as a fraction of the radius, at mid-shaft
    depth: float = 1.0  # chord scale along the beam: < 1 for flat bones (scapula, palm)
    density: float = 1.0
    flat_ends: float = 1.0  # > 1 squashes the rounded end caps along the axis (joint surfaces)
    group: str = "fore"
    lesion_range: tuple[float, float] | None = None

    def point(self, t: float) -> Point:
        return axis_point(self.p0, self.p1, t)

    def radius(self, t: float) -> float:
        return flared_radius(self.r0, self.r1, self.flare0, self.flare1, t)


FLARE_WIDTH = 0.13  # how far (fraction of length) an epiphyseal flare reaches into the shaft


def axis_point(p0: Point, p1: Point, t: float) -> Point:
    """The point a fraction ``t`` of the way from ``p0`` to ``p1``."""
    return (p0[0] + t * (p1[0] - p0[0]), p0[1] + t * (p1[1] - p0[1]))


def flared_radius(r0: float, r1: float, flare0: float, flare1: float, t: float) -> float:
    """A capsule's radius at ``t``: linear taper plus Gaussian flares at both ends."""
    return float(r0 + (r1 - r0) * t
                 + flare0 * math.exp(-(t / FLARE_WIDTH) ** 2)
                 + flare1 * math.exp(-((1 - t) / FLARE_WIDTH) ** 2))


@dataclass(frozen=True)
class Limb:
    bones: tuple[Capsule, ...]
    tissue: tuple[Capsule, ...]  # soft tissue; negative density = air inside the body (lung)

    def bone(self, name: str) -> Capsule:
        for bone in self.bones:
            if bone.name == name:
                return bone
        raise KeyError(name)


@dataclass(frozen=True)
class Field:
    """Where a body part's film is centred (cm), how tall it is (cm), and its aspect."""

    center: Point
    height_cm: float
    aspect: tuple[float, float]  # width / height range
    angle_deg: float = 0.0  # rotation that brings the part's own axis upright


FIELDS: dict[str, Field] = {
    "shoulder": Field((-3.0, 4.0), 25.0, (1.0, 1.25)),
    "humerus": Field((0.2, 15.0), 38.0, (0.55, 0.8)),
    "elbow": Field((0.2, 30.5), 19.0, (0.75, 1.0)),
    "forearm": Field((0.4, 43.0), 31.0, (0.55, 0.75)),
    "wrist": Field((0.6, 57.5), 16.0, (0.75, 1.0)),
    "hand": Field((0.6, 66.0), 23.0, (0.72, 0.9)),
    "finger": Field((0.0, 0.0), 10.5, (0.55, 0.8)),  # centred on the chosen finger
}

# Which structures may carry a lesion on each body part's film.
LESION_SITES: dict[str, tuple[str, ...]] = {
    "shoulder": ("humerus", "clavicle_lat"),
    "humerus": ("humerus",),
    "elbow": ("humerus", "radius", "ulna"),
    "forearm": ("radius", "ulna"),
    "wrist": ("radius", "ulna", "mc2", "mc3", "mc4"),
    "hand": ("mc1", "mc2", "mc3", "mc4", "mc5", "pp2", "pp3", "pp4", "pp5", "mp3", "mp4"),
    "finger": ("pp", "mp", "dp"),  # of the chosen finger
}

assert set(FIELDS) == set(BODY_PARTS) == set(LESION_SITES)


@dataclass(frozen=True)
class Physique:
    """Per-patient proportions, fixed across all of that patient's studies and views."""

    bone_scale: float = 1.0  # bone radii
    tissue_scale: float = 1.0  # soft-tissue radii
    cortex_scale: float = 1.0  # cortical thickness (thin in osteopenic patients)

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Physique:
        return cls(bone_scale=float(rng.uniform(0.88, 1.12)),
                   tissue_scale=float(rng.uniform(0.8, 1.25)),
                   cortex_scale=float(rng.uniform(0.7, 1.2)))


def _chain(name: str, start: Point, direction: Point, lengths: tuple[float, ...],
           radii: tuple[float, ...], gap: float, sites: bool) -> list[Capsule]:
    """Bones laid end to end along a direction with a joint gap between them (a finger)."""
    norm = math.hypot(*direction)
    dx, dy = direction[0] / norm, direction[1] / norm
    out: list[Capsule] = []
    x, y = start
    prefixes = ("pp", "mp", "dp") if len(lengths) == 3 else ("pp", "dp")
    for prefix, length, r in zip(prefixes, lengths, radii, strict=True):
        end_flare = 0.6 * r if prefix != "dp" else 0.35 * r
        x0, y0 = x + dx * (gap + 1.5 * r), y + dy * (gap + 1.5 * r)
        x1, y1 = x0 + dx * length, y0 + dy * length
        out.append(Capsule(f"{prefix}{name}", (x0, y0), (x1, y1), r, 0.85 * r,
                           flare0=0.5 * r, flare1=end_flare, cortex=0.35, flat_ends=1.6,
                           lesion_range=(0.2, 0.8) if sites else None))
        x, y = x1 + dx * 1.3 * r, y1 + dy * 1.3 * r
    return out


# metacarpal: base, head, shaft radius; then phalanx lengths and radii for that ray
_RAYS: dict[str, tuple[Point, Point, float, tuple[float, ...], tuple[float, ...]]] = {
    "1": ((2.7, 60.2), (4.1, 64.0), 0.55, (3.0, 2.3), (0.5, 0.42)),
    "2": ((1.45, 60.4), (1.95, 66.9), 0.45, (4.0, 2.4, 1.7), (0.45, 0.38, 0.32)),
    "3": ((0.25, 60.5), (0.35, 67.0), 0.46, (4.5, 2.8, 1.9), (0.46, 0.4, 0.33)),
    "4": ((-0.95, 60.5), (-1.35, 66.2), 0.42, (4.2, 2.6, 1.8), (0.43, 0.37, 0.31)),
    "5": ((-2.0, 60.3), (-2.8, 65.1), 0.4, (3.3, 1.8, 1.6), (0.4, 0.33, 0.29)),
}
_FINGER_SPLAY = {"1": 0.25, "2": 0.06, "3": 0.0, "4": -0.07, "5": -0.16}


def _hand() -> tuple[list[Capsule], list[Capsule]]:
    bones: list[Capsule] = []
    tissue: list[Capsule] = []
    carpals = [
        ("scaphoid", (1.9, 56.1), (1.3, 57.4), 0.72), ("lunate", (0.25, 56.4), (0.2, 56.8), 0.8),
        ("triquetrum", (-1.2, 56.9), (-1.25, 57.1), 0.72), ("pisiform", (-1.6, 57.4),
                                                            (-1.6, 57.4), 0.55),
        ("trapezium", (2.35, 58.7), (2.45, 58.9), 0.72), ("trapezoid", (1.3, 58.9), (1.35, 59.1),
                                                           0.62),
        ("capitate", (0.15, 58.4), (0.2, 59.5), 0.78), ("hamate", (-1.15, 58.6), (-1.2, 59.3),
                                                        0.76),
    ]
    for name, p0, p1, r in carpals:
        bones.append(Capsule(name, p0, p1, r, r, cortex=0.18))
    for ray, (base, head, r, lengths, radii) in _RAYS.items():
        bones.append(Capsule(f"mc{ray}", base, head, r, 0.9 * r, flare0=0.35 * r,
                             flare1=0.55 * r, cortex=0.38, flat_ends=1.6,
                             lesion_range=(0.15, 0.85)))
        direction = (head[0] - base[0] + _FINGER_SPLAY[ray] * 6.0, head[1] - base[1])
        phalanges = _chain(ray, head, direction, lengths, radii, gap=0.12, sites=True)
        bones.extend(phalanges)
        tip = phalanges[-1].p1
        tissue.append(Capsule(f"finger{ray}", head, (tip[0], tip[1]), 0.95 if ray == "1" else 0.82,
                              0.72, depth=0.95))
    tissue.append(Capsule("palm", (0.2, 56.5), (0.0, 63.8), 3.3, 4.3, depth=0.42))
    tissue.append(Capsule("thenar", (2.2, 58.0), (3.7, 62.8), 1.7, 1.3, depth=0.7))
    return bones, tissue


def _trunk() -> tuple[list[Capsule], list[Capsule]]:
    def trunk_bone(name: str, p0: Point, p1: Point, r0: float, r1: float, **kw: float) -> Capsule:
        return Capsule(name, p0, p1, r0, r1, group="trunk", **kw)  # type: ignore[arg-type]

    bones = [
        trunk_bone("glenoid", (-3.0, -0.7), (-3.1, 1.9), 0.85, 0.85, depth=0.8, cortex=0.3),
        trunk_bone("scapula_neck", (-3.6, 0.6), (-5.5, 1.8), 1.3, 1.3, depth=0.45),
        trunk_bone("scapula_body", (-6.5, 2.5), (-9.5, 15.0), 3.6, 1.0, depth=0.12, cortex=0.2),
        trunk_bone("scapula_border", (-3.8, 2.2), (-8.6, 15.5), 0.5, 0.45, cortex=0.4),
        trunk_bone("acromion", (1.2, -3.2), (-3.6, -3.8), 0.75, 0.7, depth=0.7, cortex=0.35),
        trunk_bone("scapular_spine", (-3.6, -3.8), (-12.0, -1.2), 0.6, 0.5, depth=0.8),
        trunk_bone("coracoid", (-3.8, -1.6), (-1.6, -0.9), 0.5, 0.4, cortex=0.35),
        Capsule("clavicle_lat", (-1.2, -4.3), (-8.0, -5.2), 0.8, 0.75, group="trunk",
                cortex=0.35, lesion_range=(0.25, 0.95)),
        trunk_bone("clavicle_med", (-8.0, -5.2), (-15.0, -3.4), 0.75, 0.85, cortex=0.35),
    ]
    for i, y0 in enumerate((1.0, 5.0, 9.0, 13.0, 17.0, 21.0)):
        pts = [(-19.0, y0 - 2.0), (-12.0, y0 - 1.5), (-6.5, y0 + 1.0), (-4.5, y0 + 3.5)]
        for j in range(3):
            bones.append(Capsule(f"rib{i}_{j}", pts[j], pts[j + 1], 0.55, 0.5, cortex=0.35,
                                 density=0.75, depth=0.7, group="trunk"))
    tissue = [
        Capsule("torso", (-17.0, -4.0), (-17.0, 14.0), 14.0, 12.0, depth=0.75, group="trunk"),
        Capsule("lung", (-13.0, 5.0), (-13.0, 16.0), 7.5, 8.0, depth=0.9, density=-0.85,
                group="trunk"),
        Capsule("trapezius", (-10.0, -7.0), (-1.0, -3.5), 4.5, 3.0, depth=0.8, group="trunk"),
        Capsule("deltoid", (-0.5, -2.0), (1.2, 12.0), 5.6, 4.4, depth=0.9, group="arm"),
    ]
    return bones, tissue


def _arm() -> tuple[list[Capsule], list[Capsule]]:
    bones = [
        Capsule("humeral_head", (-0.8, 0.4), (-0.6, 0.6), 2.35, 2.35, cortex=0.1, group="arm"),
        Capsule("greater_tuberosity", (1.2, 0.9), (1.3, 1.6), 1.2, 1.2, cortex=0.1, group="arm"),
        Capsule("humerus", (0.3, 2.2), (0.45, 28.6), 1.35, 1.05, flare0=0.6, flare1=0.55,
                cortex=0.32, group="arm", flat_ends=1.8, lesion_range=(0.04, 0.96)),
        Capsule("epicondyles", (-2.7, 29.0), (2.4, 29.1), 0.95, 0.85, depth=0.7, cortex=0.2,
                group="arm"),
        Capsule("trochlea", (-1.3, 29.9), (1.4, 29.9), 0.9, 0.9, cortex=0.2, group="arm"),
        Capsule("radius", (1.5, 32.1), (2.3, 54.2), 0.65, 0.95, flare0=0.55, flare1=0.75,
                cortex=0.33, flat_ends=2.2, lesion_range=(0.03, 0.97)),
        Capsule("ulna", (-1.2, 30.7), (-1.9, 54.3), 0.85, 0.55, flare0=1.0, flare1=0.35,
                cortex=0.33, flat_ends=1.8, lesion_range=(0.06, 0.97)),
        Capsule("ulnar_styloid", (-2.1, 54.5), (-2.3, 55.4), 0.3, 0.22, cortex=0.3),
    ]
    tissue = [
        Capsule("upper_arm", (0.0, -1.0), (0.3, 30.5), 4.8, 3.9, depth=0.95, group="arm"),
        Capsule("forearm", (0.3, 30.5), (0.4, 55.5), 4.1, 2.7, depth=0.8),
    ]
    return bones, tissue


def _build_limb() -> Limb:
    trunk_bones, trunk_tissue = _trunk()
    arm_bones, arm_tissue = _arm()
    hand_bones, hand_tissue = _hand()
    return Limb(tuple(trunk_bones + arm_bones + hand_bones),
                tuple(trunk_tissue + arm_tissue + hand_tissue))


BASE_LIMB = _build_limb()


def finger_field(limb: Limb, finger: str) -> Field:
    """A finger film: centred on the finger's phalanges, turned so the finger stands upright."""
    pp, dp = limb.bone(f"pp{finger}"), limb.bone(f"dp{finger}")
    cx, cy = (pp.p0[0] + dp.p1[0]) / 2, (pp.p0[1] + dp.p1[1]) / 2 - 0.8
    angle = math.degrees(math.atan2(dp.p1[0] - pp.p0[0], dp.p1[1] - pp.p0[1]))
    return replace(FIELDS["finger"], center=(cx, cy), angle_deg=angle)


def _spread_point(p: Point, spread: float) -> Point:
    return (LIMB_AXIS_X + (p[0] - LIMB_AXIS_X) * spread, p[1])


def _flex_point(p: Point, cos_a: float, sin_a: float) -> Point:
    dx, dy = p[0] - ELBOW_CENTER[0], p[1] - ELBOW_CENTER[1]
    return (ELBOW_CENTER[0] + cos_a * dx - sin_a * dy, ELBOW_CENTER[1] + sin_a * dx + cos_a * dy)


def posed_limb(physique: Physique, spread: float = 1.0, flex_deg: float = 0.0) -> Limb:
    """The limb for one view: patient proportions applied, squeezed and bent as the view asks."""
    cos_a, sin_a = math.cos(math.radians(flex_deg)), math.sin(math.radians(flex_deg))

    def pose(c: Capsule, radius_scale: float) -> Capsule:
        p0, p1 = c.p0, c.p1
        if c.group != "trunk":
            p0, p1 = _spread_point(p0, spread), _spread_point(p1, spread)
        if c.group == "fore" and flex_deg:
            p0, p1 = _flex_point(p0, cos_a, sin_a), _flex_point(p1, cos_a, sin_a)
        return replace(c, p0=p0, p1=p1, r0=c.r0 * radius_scale, r1=c.r1 * radius_scale,
                       flare0=c.flare0 * radius_scale, flare1=c.flare1 * radius_scale,
                       cortex=min(0.6, c.cortex * physique.cortex_scale))

    return Limb(tuple(pose(b, physique.bone_scale) for b in BASE_LIMB.bones),
                tuple(pose(t, physique.tissue_scale) for t in BASE_LIMB.tissue))


@dataclass(frozen=True)
class ViewKind:
    name: str
    spread: float
    flex_deg: float
    turn_deg: float  # extra in-plane rotation typical for this view


VIEWS: dict[str, tuple[ViewKind, ...]] = {
    "shoulder": (ViewKind("AP", 1.0, 0, 0), ViewKind("AP-ext", 1.0, 0, 8),
                 ViewKind("oblique", 1.0, 0, -12)),
    "humerus": (ViewKind("AP", 1.0, 0, 0), ViewKind("lateral", 0.35, 0, 4)),
    "elbow": (ViewKind("AP", 1.0, 0, 0), ViewKind("lateral", 0.3, 85, -10),
              ViewKind("oblique", 0.65, 15, 5)),
    "forearm": (ViewKind("AP", 1.0, 0, 0), ViewKind("lateral", 0.3, 0, 3)),
    "wrist": (ViewKind("PA", 1.0, 0, 0), ViewKind("lateral", 0.25, 0, 0),
              ViewKind("oblique", 0.6, 0, 6)),
    "hand": (ViewKind("PA", 1.0, 0, 0), ViewKind("oblique", 0.6, 0, 4),
             ViewKind("lateral", 0.22, 0, 0)),
    "finger": (ViewKind("PA", 1.0, 0, 0), ViewKind("lateral", 0.45, 0, 0),
               ViewKind("oblique", 0.7, 0, 3)),
}
