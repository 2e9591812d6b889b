"""ProbeConfig: how encoders are evaluated (probe, label fractions, metrics, baselines)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from xrayssl.config.base import EMPTY_POLICY, StrictModel


class SupervisedConfig(StrictModel):
    """End-to-end supervised training of an encoder plus a linear head (the "SL" baseline)."""

    epochs: int = Field(default=30, ge=1)
    batch_size: int = Field(default=128, ge=2)
    lr: float = Field(default=1e-3, gt=0)
    weight_decay: float = Field(default=1e-4, ge=0)
    policy: str = "identity"  # augmentation spec applied to training batches
    # Share of training patients held out to pick the best epoch (0 = keep the last epoch).
    holdout_fraction: float = Field(default=0.15, ge=0, lt=0.5)

    @field_validator("policy")
    @classmethod
    def _policy_given(cls, value: str) -> str:
        if not value.strip():
            raise ValueError(EMPTY_POLICY)
        return value


class ProbeConfig(StrictModel):
    fractions: list[float] = Field(default_factory=lambda: [0.01, 0.1, 1.0])
    # Label subsets (and probe seeds) drawn for each fraction below 1.
    seeds: int = Field(default=3, ge=1)
    body_parts: list[str] | None = None
    cs: list[float] = Field(default_factory=lambda: [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0])
    cv_folds: int = Field(default=5, ge=2)
    class_weight: Literal["balanced"] | None = "balanced"
    max_iter: int = Field(default=1000, ge=10)
    # The same convex fit every way. path-newton (xrayssl.evaluate.logistic_path) forms the
    # curvature once per training set and takes preconditioned Newton steps along the C path;
    # newton-cholesky and lbfgs are scikit-learn's solvers, kept to compare against.
    solver: Literal["path-newton", "newton-cholesky", "lbfgs"] = "path-newton"
    # What the probe reads: the encoder's final pooled features, or every residual stage's
    # pooled output side by side (xrayssl.evaluate.features.MultiScalePooled); "auto" is the
    # readout of the recipe for the image size (xrayssl.models.recipe), final for an encoder
    # without residual stages. metrics.json records the one that was read.
    readout: Literal["auto", "final", "multiscale"] = "auto"
    # Decision threshold of kappa/sensitivity/specificity: None = chosen on val for each
    # probe (Youden's J) and applied unchanged to test; a number fixes it.
    threshold: float | None = Field(default=None, gt=0, lt=1)
    n_bootstrap: int = Field(default=1000, ge=0)
    ci_level: float = Field(default=0.95, gt=0, lt=1)
    batch_size: int = Field(default=256, ge=1)
    # Side of the downsampled image whose pixels are the raw-pixel baseline's features.
    raw_size: int = Field(default=32, ge=4)
    supervised: SupervisedConfig = Field(default_factory=SupervisedConfig)

    @field_validator("fractions")
    @classmethod
    def _fractions_in_range(cls, value: list[float]) -> list[float]:
        if not value:
            raise ValueError("give at least one label fraction")
        for f in value:
            if not 0 < f <= 1:
                raise ValueError(f"label fraction {f} must be in (0, 1]")
        return sorted(set(value))

    @field_validator("cs")
    @classmethod
    def _positive_cs(cls, value: list[float]) -> list[float]:
        if not value or min(value) <= 0:
            raise ValueError("C values must be positive")
        return sorted(value)
