"""The pretraining recipe for an image size: what learned fastest per CPU-minute, measured.

Measured on knee-oa radiographs at 64 px, and for the probe's readout also on PneumoniaMNIST at
28 px, with ``bench/quality.py`` (val carved from train by patient, probe on that val); the
README's "A recipe for a CPU budget" section has the figures that chose each value. Larger
images keep the ImageNet-style defaults of ``PretrainConfig``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

SMALL_IMAGE_MAX = 96  # up to this side, the small-image recipe applies


@dataclass(frozen=True)
class Recipe:
    method: str
    encoder: str
    policy: str
    batch_size: int
    lr: float
    warmup_epochs: float
    readout: str  # what the probe reads: "final" or "multiscale"
    method_options: dict[str, float | int | bool] = field(default_factory=dict)


SMALL_IMAGES = Recipe(
    method="simclr",
    encoder="resnet_tiny",
    policy="crop(scale=0.3-1)+flip+rotation(deg=15)+brightness_contrast",
    batch_size=128,
    lr=2e-3,
    warmup_epochs=1.0,
    # The probe reads every residual stage's pooled output: at 28 px (PneumoniaMNIST) the final
    # stage of resnet_tiny pools a 4x4 map and the early stages' statistics read best, seed for
    # seed; on knee-oa at 64 px, after the 15-minute budget, it probed +0.005 to +0.021 AUROC
    # above the final vector of the same encoders on each of three seeds, and at 96 px
    # +0.011 to +0.034 (README).
    readout="multiscale",
)

# Above 96 px: PretrainConfig's ImageNet-style defaults (no measurement of ours behind them).
LARGE_IMAGES = replace(SMALL_IMAGES, encoder="resnet18", batch_size=256, lr=1e-3,
                       warmup_epochs=2.0, readout="final")


def recipe_for(image_size: int) -> Recipe:
    return SMALL_IMAGES if image_size <= SMALL_IMAGE_MAX else LARGE_IMAGES


def with_small_image_defaults(fields: dict[str, Any], image_size: int) -> tuple[dict[str, Any],
                                                                                 list[str]]:
    """``fields`` (PretrainConfig fields the user gave) completed with the small-image recipe.

    Only for images of ``SMALL_IMAGE_MAX`` px or less and only for fields left unset, so an
    explicit choice always wins. Returns the fields and the names of those filled in.
    """
    if image_size > SMALL_IMAGE_MAX:
        return fields, []
    recipe = SMALL_IMAGES
    defaults: dict[str, Any] = {"encoder": recipe.encoder, "policy": recipe.policy,
                                "batch_size": recipe.batch_size, "lr": recipe.lr,
                                "warmup_epochs": recipe.warmup_epochs}
    if recipe.method_options and fields.get("method", recipe.method) == recipe.method:
        defaults["method_options"] = dict(recipe.method_options)
    filled = [k for k in defaults if k not in fields]
    return {**{k: defaults[k] for k in filled}, **fields}, filled
