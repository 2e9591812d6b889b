"""Patients, their studies and views: what to render, decided from the seed alone.

Every random choice draws from a generator keyed by ``(seed, patient, study, view)``, so an
image's bytes depend only on those numbers: never on worker count or on the order in which
patients are rendered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from xrayssl.errors import XraySSLError
from xrayssl.synth.anatomy import (
    BASE_LIMB,
    FIELDS,
    LESION_SITES,
    Capsule,
    Field,
    Physique,
    finger_field,
)
from xrayssl.synth.lesions import KINDS, LesionSpec, kind_weights, sample_lesion
from xrayssl.synth.render import Rendered, render_view

# The named levels sit where a small CNN trained on ~2,000 films at 128 px still separates
# them (bench/synth_learnability.py); above ~0.7 lesions are near-invisible at that scale.
DIFFICULTY_LEVELS = {"easy": 0.15, "medium": 0.35, "hard": 0.55}
VIEWS_PER_STUDY = ((1, 2, 3, 4), (0.08, 0.3, 0.45, 0.17))  # close to MURA's mix
STUDIES_PER_PATIENT = ((1, 2, 3), (0.88, 0.1, 0.02))
FINGERS = ("1", "2", "3", "4", "5")

# stream tags: keep the patient, study and view generators apart
_PATIENT, _STUDY, _VIEW = 1, 2, 3


def parse_difficulty(value: str | float) -> float:
    """``easy`` | ``medium`` | ``hard`` or a number in [0, 1] (0 = most conspicuous)."""
    if isinstance(value, str):
        key = value.strip().lower()
        if key in DIFFICULTY_LEVELS:
            return DIFFICULTY_LEVELS[key]
        try:
            number = float(key)
        except ValueError:
            raise XraySSLError(
                f"difficulty {value!r} is not understood; use easy, medium, hard or a number "
                "between 0 and 1") from None
    else:
        number = float(value)
    if not 0.0 <= number <= 1.0 or math.isnan(number):
        raise XraySSLError(f"difficulty {number} is outside [0, 1]; 0 is easiest, 1 hardest")
    return number


@dataclass(frozen=True)
class PatientPlan:
    number: int  # MURA patient number (patient00001 ...)
    part: str
    split: str


@dataclass(frozen=True)
class ViewResult:
    study: int
    view: int  # 1-based, as in imageN.png
    positive: bool
    rendered: Rendered
    lesion: LesionSpec | None
    laterality: str


def lesion_site(part: str, finger: str, rng: np.random.Generator) -> tuple[Capsule, float]:
    """A bone and a position along it that fall well inside this body part's film."""
    sites = LESION_SITES[part]
    names = list(sites)
    if part == "finger":  # the thumb has no middle phalanx
        known = {b.name for b in BASE_LIMB.bones}
        names = [f"{s}{finger}" for s in sites if f"{s}{finger}" in known]
    field: Field = finger_field(BASE_LIMB, finger) if part == "finger" else FIELDS[part]
    angle = math.radians(field.angle_deg)
    half_h = 0.33 * field.height_cm
    half_w = 0.33 * field.height_cm * field.aspect[0]
    best: tuple[float, Capsule, float] | None = None
    for _ in range(40):
        bone = BASE_LIMB.bone(names[int(rng.integers(len(names)))])
        assert bone.lesion_range is not None
        t = float(rng.uniform(*bone.lesion_range))
        x, y = bone.point(t)
        dx, dy = x - field.center[0], y - field.center[1]
        u = math.cos(angle) * dx - math.sin(angle) * dy
        v = math.sin(angle) * dx + math.cos(angle) * dy
        excess = max(abs(u) / half_w, abs(v) / half_h)
        if excess <= 1.0:
            return bone, t
        if best is None or excess < best[0]:
            best = (excess, bone, t)
    assert best is not None
    return best[1], best[2]


def render_patient(plan: PatientPlan, seed: int, size: int, difficulty: float,
                   positive_fraction: float) -> list[ViewResult]:
    """All views of all studies of one patient."""
    prng = np.random.default_rng([seed, plan.number, _PATIENT])
    physique = Physique.sample(prng)
    finger = FINGERS[int(prng.integers(1, 5)) if prng.random() < 0.85 else 0]
    side = "L" if prng.random() < 0.45 else "R"
    n_studies = int(prng.choice(STUDIES_PER_PATIENT[0], p=STUDIES_PER_PATIENT[1]))
    results: list[ViewResult] = []
    for study in range(1, n_studies + 1):
        srng = np.random.default_rng([seed, plan.number, study, _STUDY])
        positive = bool(srng.random() < positive_fraction)
        n_views = int(srng.choice(VIEWS_PER_STUDY[0], p=VIEWS_PER_STUDY[1]))
        laterality = side if srng.random() < 0.9 else ("R" if side == "L" else "L")
        # Every study draws a lesion; a normal study is only framed as if it had it.
        kind = str(srng.choice(KINDS, p=kind_weights(difficulty)))
        bone, t = lesion_site(plan.part, finger, srng)
        planned = sample_lesion(kind, bone, t, difficulty, srng)
        lesion = planned if positive else None
        for view in range(1, n_views + 1):
            vrng = np.random.default_rng([seed, plan.number, study, view, _VIEW])
            rendered = render_view(plan.part, physique, view - 1, laterality == "L", lesion,
                                   finger, size, vrng, framing=planned)
            results.append(ViewResult(study, view, positive, rendered, lesion, laterality))
    return results
