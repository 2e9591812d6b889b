"""``metrics.json``: what a probe (or a baseline) measured, per label fraction and held-out split.

See the package docstring for the layout and for how to extend it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from xrayssl.atomic import atomic_write_json
from xrayssl.errors import XraySSLError

FORMAT: Final = "xrayssl-run-v2"
METRICS_FILE = "metrics.json"
HELD_OUT = "test"  # the split that is reported (val, the one that selects, is scored too)
RunKind = Literal["trial", "baseline", "probe"]
Level = Literal["image", "study"]


class RunPart(BaseModel):
    """Base of every schema part: unknown fields are errors (a typo never passes silently)."""

    model_config = ConfigDict(extra="forbid")


class Estimate(RunPart):
    """A metric with its bootstrap confidence interval; None where it is undefined."""

    value: float | None
    lo: float | None = None
    hi: float | None = None


class Scores(RunPart):
    """Every metric of one group of images at one level (``metrics_with_ci``'s result)."""

    metrics: dict[str, Estimate]
    n: int | None = None
    n_positive: int | None = None
    n_clusters: int | None = None
    n_prediction_sets: int | None = None
    # One for all prediction sets, or one per set (each probe's own, chosen on val).
    threshold: float | list[float] | None = None
    ci_level: float | None = None
    n_bootstrap: int | None = None

    @classmethod
    def from_flat(cls, block: dict[str, Any]) -> Scores:
        """``{"n": .., "auroc": {"value": ..}, ...}`` -> Scores (metrics are the dict entries)."""
        metrics = {k: Estimate.model_validate(v) for k, v in block.items() if isinstance(v, dict)}
        counts = {k: v for k, v in block.items() if k in COUNTS}
        return cls(metrics=metrics, **counts)


COUNTS = frozenset(Scores.model_fields) - {"metrics"}


class GroupScores(RunPart):
    """Image-level scores, and study-level ones when some study has several images.

    ``image`` is None where a metric like AUROC is undefined (one class in the group)."""

    image: Scores | None
    study: Scores | None = None

    def level(self, level: Level) -> Scores | None:
        return self.image if level == "image" else self.study


class SeedSpread(RunPart):
    """A metric of every label subset on its own, and their standard deviation."""

    values: list[float | None]
    sd: float | None


class ProbeFit(RunPart):
    """One fit on one label subset: its size and what was fitted (C, or supervised epochs)."""

    seed: int
    n_train: int
    n_train_positive: int | None = None
    n_train_patients: int | None = None
    seconds: float | None = None
    fitted: dict[str, Any] = Field(default_factory=dict)


class SplitScores(RunPart):
    """One label fraction scored on one held-out split."""

    overall: GroupScores
    by_body_part: dict[str, GroupScores] = Field(default_factory=dict)
    seed_spread: dict[str, SeedSpread] = Field(default_factory=dict)
    # P(abnormal), (S fits, N images of the split in its ``indices`` order); unrounded, since
    # rounding would create ties and shift AUROC.
    predictions: list[list[float]] | None = None

    def estimate(self, metric: str, level: Level = "image",
                 body_part: str | None = None) -> Estimate | None:
        group = self.overall if body_part is None else self.by_body_part.get(body_part)
        scores = group.level(level) if group is not None else None
        estimate = scores.metrics.get(metric) if scores is not None else None
        return estimate if estimate is not None and estimate.value is not None else None


class FractionResult(RunPart):
    fraction: float
    fits: list[ProbeFit] = Field(default_factory=list)
    scores: dict[str, SplitScores]  # held-out split name -> its scores


class HeldOutSplit(RunPart):
    """Images a probe is scored on, and how they were set apart from the training images."""

    how: str
    indices: list[int] | None = None  # cache indices: the column order of every predictions row
    labels: list[int] | None = None
    clusters: list[str] | None = None  # resampling units (patients) for the bootstrap
    n: int | None = None
    n_positive: int | None = None
    n_patients: int | None = None
    body_parts: list[str] = Field(default_factory=list)
    # Each image's body part, in ``indices`` order: per-part differences and per-part
    # selection need it. None in files written before it was recorded.
    image_parts: list[str] | None = None


class TrainSplit(RunPart):
    n: int | None = None
    n_patients: int | None = None


class RunIdentity(RunPart):
    """What made the numbers (see the package docstring for the kinds)."""

    kind: RunKind
    method: str | None = None
    policy: str | None = None  # view 1 spec
    policy_b: str | None = None  # view 2 spec of a two-view (pairwise) trial
    seed: int | None = None
    baseline: str | None = None  # raw | random | imagenet | supervised | imagenet-linear
    key: str | None = None  # the study's key of the grid point
    epochs: int | None = None  # pretraining epochs behind the numbers
    rung: int | None = None  # successive halving: the rung of the trial (0 first)
    label: str | None = None  # row name in tables (``xrayssl probe --label``)

    def description(self, **extra: str) -> dict[str, Any]:
        """The ``model`` block of ``metrics.json``: this identity's method, policies and seed
        plus ``extra`` (the trial folder, the encoder file)."""
        return {"method": self.method, "policy": self.policy, "policy_b": self.policy_b,
                "seed": self.seed, **extra}


class DataInfo(RunPart):
    cache: str | None = None
    config_hash: str | None = None
    image_size: int | None = None
    body_parts: list[str] = Field(default_factory=list)


class RunMetrics(RunPart):
    """The content of ``metrics.json``."""

    format: Literal["xrayssl-run-v2"] = FORMAT
    run: RunIdentity
    model: dict[str, Any] = Field(default_factory=dict)  # the encoder's own description
    data: DataInfo = Field(default_factory=DataInfo)
    evaluation: dict[str, Any] = Field(default_factory=dict)  # the probe settings used
    train: TrainSplit = Field(default_factory=TrainSplit)
    splits: dict[str, HeldOutSplit]
    fractions: dict[str, FractionResult]  # f"{fraction:g}" -> result
    timing: dict[str, Any] = Field(default_factory=dict)

    def at(self, fraction: float) -> FractionResult | None:
        for result in self.fractions.values():
            if math.isclose(result.fraction, fraction):
                return result
        return None

    def scores(self, fraction: float, split: str = HELD_OUT) -> SplitScores | None:
        result = self.at(fraction)
        return result.scores.get(split) if result is not None else None

    def estimate(self, metric: str, fraction: float, level: Level = "image",
                 split: str = HELD_OUT, body_part: str | None = None) -> Estimate | None:
        scores = self.scores(fraction, split)
        return scores.estimate(metric, level, body_part) if scores is not None else None

    def write(self, path: Path) -> None:
        atomic_write_json(path, self.model_dump(mode="json"))

    @classmethod
    def read(cls, path: Path, config: dict[str, Any] | None = None) -> RunMetrics:
        """Read ``path`` (this format or ``xrayssl-metrics-v1``); ``config`` is the run's
        ``config.yaml``, which names the run of a v1 file."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise XraySSLError(f"{path} could not be read ({err}); {REBUILD}") from None
        return cls.from_json_data(data, str(path), config)

    @classmethod
    def from_json_data(cls, data: Any, where: str,
                       config: dict[str, Any] | None = None) -> RunMetrics:
        version = data.get("format") if isinstance(data, dict) else None
        if version in UPGRADES:
            return UPGRADES[version](data, where, config)
        if version != FORMAT:
            found = "no format field" if version is None else f"format {version!r}"
            raise XraySSLError(
                f"{where} is not a metrics file this xrayssl reads ({found}; it reads {FORMAT} "
                f"and {' and '.join(UPGRADES)}); {REBUILD}"
            )
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            raise XraySSLError(malformed(where, err)) from None


Upgrade = Callable[[dict[str, Any], str, "dict[str, Any] | None"], RunMetrics]
# Older formats -> their upgrade to this one; ``legacy`` registers itself here (the package
# imports it), so reading never imports upward.
UPGRADES: dict[str, Upgrade] = {}

REBUILD = ("rebuild it with the command that wrote it: `xrayssl probe ... --out FILE`, or for a "
           "study trial `xrayssl study run CONFIG` in a fresh runs_dir")


def malformed(where: str, err: ValidationError) -> str:
    lines = [f"{where} is malformed:"]
    for problem in err.errors()[:5]:
        field = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        lines.append(f"  {field}: {problem['msg']}")
    lines.append(REBUILD)
    return "\n".join(lines)


def fraction_key(fraction: float) -> str:
    return f"{fraction:g}"
