"""The study configuration: data, methods, seeds, pretraining and probe settings, policy space.

Relative paths are read relative to the working directory the command runs in (the
repository root for the example configs). The cache's three splits (``data.splits``, see
:mod:`xrayssl.data.splits`) serve every stage: pretraining and the probe fit on ``train``,
every choice (ranking, pruning, thresholds, the kNN monitor) reads ``val``, and ``test`` is
reported once, for the selected policies and the floors (``baselines``), which run as trials
of the study. ``pretrain`` and ``probe`` hold the keyword
settings of the pretraining and probe stages; they are validated by those stages' own models
when the study starts, so a typo there is reported before the first trial runs.
"""

from __future__ import annotations

import hashlib
import json
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from xrayssl.config.base import StrictModel, load_yaml
from xrayssl.config.data import SplitConfig, check_body_part_name
from xrayssl.errors import XraySSLError

SpaceKind = Literal["list", "subsets", "ablation", "pairwise", "search"]
BaselineKind = Literal["raw", "random", "supervised"]
BASELINE_KINDS: tuple[BaselineKind, ...] = ("raw", "random", "supervised")


class SynthSettings(StrictModel):
    """Generate a synthetic MURA-style dataset first (the demo's data)."""

    patients: int = Field(default=40, ge=2)
    size: int = Field(default=96, ge=16)
    seed: int = 0
    options: dict[str, Any] = Field(default_factory=dict)


class DataSettings(StrictModel):
    """Where images come from: exactly one of ``cache``, ``source``, ``sources`` or ``synth``.

    ``sources`` prepares several datasets (e.g. MURA and AI Hub) into one cache. The study then
    runs once per source, each in its own folder ``<name>-<source>``, with the source's body
    parts reported one by one; ``pooled: true`` instead trains and probes on all sources at
    once (the seed study's way, never the default: the two datasets would share one encoder,
    one probe and one headline number).
    """

    cache: Path | None = None
    source: Path | None = None
    sources: list[Path] | None = Field(default=None, min_length=1)
    synth: SynthSettings | None = None
    pooled: bool = False
    size: int = Field(default=224, ge=16, description="prepared image side in pixels")
    clahe: bool = True
    cache_dir: Path | None = Field(
        default=None, description="where source/synth data is prepared; default <study>/cache"
    )
    body_parts: list[str] | None = None
    splits: SplitConfig = Field(default_factory=SplitConfig)
    body_part: str | None = Field(
        default=None, description="body part of images whose source names none (e.g. knee)"
    )
    patient_id: str | None = Field(
        default=None,
        description="a pattern that reads each image's patient from its file name (the first "
                    "group, else the whole match), e.g. '^(\\d+)[LR]$'",
    )

    @model_validator(mode="after")
    def one_origin(self) -> DataSettings:
        origins = ("cache", "source", "sources", "synth")
        given = [name for name in origins if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of data.cache (a prepared cache), data.source (raw images), "
                "data.sources (several raw datasets) or data.synth (generated images); "
                f"got {given or 'none'}"
            )
        if self.body_part is not None and self.source is None and self.sources is None:
            raise ValueError(
                "data.body_part names the images of data.source(s); a prepared cache keeps "
                "the names it was prepared with (xrayssl prepare --body-part) and "
                "synthetic data names its own"
            )
        return self

    @field_validator("body_part")
    @classmethod
    def _body_part_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return check_body_part_name(value, "data.body_part")
        except XraySSLError as err:
            raise ValueError(str(err)) from None


class SpaceSettings(StrictModel):
    """The policies to compare (see ``xrayssl.study.space``)."""

    kind: SpaceKind
    policies: list[str] = Field(default_factory=list, description="kind: list")
    ops: list[str] = Field(default_factory=list)
    base: str = ""
    direction: Literal["add", "remove", "both"] = "add"
    mode: Literal["asymmetric", "composed"] = "asymmetric"
    strengths: dict[str, dict[str, tuple[float, float]]] = Field(
        default_factory=dict,
        description="kind: search. op -> parameter -> (low, high) range sampled by TPE",
    )
    n_trials: int | None = Field(default=None, ge=1, description="kind: search. trial budget")

    @model_validator(mode="after")
    def fields_for_kind(self) -> SpaceSettings:
        if self.kind == "list" and not self.policies:
            raise ValueError("space.kind 'list' needs space.policies (a list of specs)")
        if any(not spec.strip() for spec in self.policies):
            raise ValueError("space.policies has an empty policy; write 'identity' for no "
                             "augmentation")
        if self.kind in ("subsets", "ablation", "pairwise", "search") and not self.ops:
            raise ValueError(f"space.kind {self.kind!r} needs space.ops (a list of op names)")
        if len(set(self.ops)) != len(self.ops):
            raise ValueError(f"space.ops has repeats: {self.ops}")
        if self.kind == "search" and self.n_trials is None:
            raise ValueError("space.kind 'search' needs space.n_trials (the trial budget)")
        unknown = set(self.strengths) - set(self.ops)
        if unknown:
            raise ValueError(f"space.strengths names ops not in space.ops: {sorted(unknown)}")
        for op, params in self.strengths.items():
            for param, (low, high) in params.items():
                if not low < high:
                    raise ValueError(f"space.strengths.{op}.{param}: need low < high")
        return self


class ObjectiveSettings(StrictModel):
    """The number a trial is ranked by (always maximised)."""

    metric: Literal["auroc", "kappa", "accuracy", "f1"] = "auroc"
    level: Literal["image", "study"] = "image"
    fraction: float = Field(default=1.0, gt=0, le=1)


class RunnerSettings(StrictModel):
    heartbeat_interval: int = Field(default=10, ge=1, description="seconds between heartbeats")
    grace_period: int = Field(
        default=60, ge=2, description="seconds without heartbeat before a trial counts as dead"
    )
    max_attempts: int = Field(default=2, ge=1, description="tries of a trial that raises")
    prune: bool = Field(default=False, description="stop weak trials on the online monitor")
    prune_warmup_epochs: int = Field(default=1, ge=0)
    prune_startup_trials: int = Field(default=4, ge=0)
    wait_for_others: bool = Field(
        default=True, description="when the queue is empty, wait for trials running elsewhere"
    )
    keep_checkpoints: bool = Field(
        default=False,
        description="keep a finished trial's Lightning checkpoints (by default they go once its "
                    "metrics are written: the encoder, probe and logs stay)",
    )

    @model_validator(mode="after")
    def grace_after_heartbeat(self) -> RunnerSettings:
        if self.grace_period <= self.heartbeat_interval:
            raise ValueError("runner.grace_period must be longer than runner.heartbeat_interval")
        return self


class ReportSettings(StrictModel):
    gradcam: bool = True
    gradcam_images: int = Field(default=6, ge=1)
    efficiency_trials: int = Field(
        default=3, ge=1, description="best trials per method in the label-efficiency plot"
    )


class HalvingSettings(StrictModel):
    """Successive halving over policies (``xrayssl.study.halving``).

    Every policy of a method pretrains ``rungs[0]`` epochs with the study's ``seeds``; when a
    rung has ended, the best ``max(min_keep, ceil(keep * n))`` of its ``n`` policies (val
    objective, mean over seeds) pretrain again from scratch for the next rung's epochs, and
    the last rung runs every finalist with ``final_seeds``. ``keep: 1`` runs every policy at
    every rung, which measures how well the short budget predicts the long one.
    """

    rungs: list[int] = Field(min_length=2, description="pretraining epochs of each rung")
    keep: float = Field(default=0.5, gt=0, le=1, description="share that goes on (ceil)")
    min_keep: int = Field(default=2, ge=1, description="never fewer finalists per method")
    final_seeds: list[int] = Field(
        default_factory=lambda: [0, 1, 2], min_length=1,
        description="pretraining seeds of every policy at the last rung",
    )
    keep_base: bool = Field(
        default=True,
        description="the base policy goes on to every rung as the reference of the paired "
                    "differences, besides the best (it takes no place of theirs)",
    )

    @field_validator("rungs")
    @classmethod
    def _increasing(cls, rungs: list[int]) -> list[int]:
        if any(epochs < 1 for epochs in rungs):
            raise ValueError(f"halving.rungs are pretraining epochs, each at least 1: {rungs}")
        if any(b <= a for a, b in pairwise(rungs)):
            raise ValueError(f"halving.rungs must be strictly increasing epochs: {rungs}")
        return rungs

    @field_validator("final_seeds")
    @classmethod
    def _distinct(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"halving.final_seeds has repeats: {seeds}")
        return seeds


class StudyConfig(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    runs_dir: Path = Path("runs")
    data: DataSettings
    methods: list[str] = Field(default_factory=lambda: ["simclr", "byol"], min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    baselines: list[BaselineKind] = Field(
        default_factory=lambda: list(BASELINE_KINDS),
        description="the floors run as trials of the study ([] for none)",
    )
    pretrain: dict[str, Any] = Field(default_factory=dict)
    pretrain_by_method: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="method -> pretrain settings that replace ``pretrain``'s for that method "
                    "(e.g. BYOL from ImageNet weights, SimCLR from scratch)",
    )
    probe: dict[str, Any] = Field(default_factory=dict)
    space: SpaceSettings
    objective: ObjectiveSettings = Field(default_factory=ObjectiveSettings)
    runner: RunnerSettings = Field(default_factory=RunnerSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    halving: HalvingSettings | None = Field(
        default=None, description="successive halving over policies (off when absent)"
    )

    @model_validator(mode="after")
    def no_reserved_keys(self) -> StudyConfig:
        for where, settings in (("pretrain", self.pretrain),
                                *((f"pretrain_by_method.{m}", v)
                                  for m, v in self.pretrain_by_method.items())):
            reserved = {"method", "policy", "policy_b", "seed"} & set(settings)
            if reserved:
                raise ValueError(
                    f"{where} sets {sorted(reserved)}, which the study chooses per trial; "
                    "use methods/seeds/space instead"
                )

        if len(set(self.methods)) != len(self.methods):
            raise ValueError(f"methods has repeats: {self.methods}")
        if len(set(self.baselines)) != len(self.baselines):
            raise ValueError(f"baselines has repeats: {self.baselines}")
        if self.halving is not None and self.space.kind == "search":
            raise ValueError(
                "halving works on a grid of policies; space.kind 'search' proposes its own "
                "trials (TPE): remove halving, or use a grid space (list, subsets, ablation, "
                "pairwise)"
            )
        return self

    @property
    def study_dir(self) -> Path:
        return self.runs_dir / self.name

    def fingerprint(self) -> str:
        """Hash of what makes two trials with the same key comparable (``settled()``).

        Methods, seeds, baselines, the policy space and halving are left out on purpose:
        widening them (the demo's ``--full``, another ``halving.keep``) extends a study
        instead of starting over, reusing finished trials.
        """
        blob = json.dumps(self.settled(), sort_keys=True).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()[:16]

    def settled(self) -> dict[str, Any]:
        """The settings the fingerprint hashes, as plain data."""
        settled = self.model_dump(
            mode="json", include={"data", "pretrain", "probe", "objective"}
        )
        if settled["data"].get("body_part") is None:
            settled["data"].pop("body_part", None)  # studies from before the field keep theirs
        # Settings added later are left out at their defaults, so older studies keep their hash.
        if settled["data"].get("sources") is None:
            settled["data"].pop("sources", None)
        if not settled["data"].get("pooled"):
            settled["data"].pop("pooled", None)
        if settled["data"].get("patient_id") is None:
            settled["data"].pop("patient_id", None)
        if self.pretrain_by_method:
            settled["pretrain_by_method"] = self.model_dump(mode="json")["pretrain_by_method"]
        return settled


def changed_fields(before: Any, after: Any, prefix: str = "") -> list[str]:
    """``data.size: 64 -> 96`` for every leaf that differs between two settings trees."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[str] = []
        for key in sorted(set(before) | set(after), key=str):
            out += changed_fields(before.get(key), after.get(key), f"{prefix}{key}.")
        return out
    if before == after:
        return []
    return [f"{prefix.rstrip('.')}: {before!r} -> {after!r}"]


def load_study_config(path: Path, overrides: dict[str, Any] | None = None) -> StudyConfig:
    """Read and validate a study YAML; ``overrides`` replace top-level fields afterwards."""
    config = load_yaml(StudyConfig, path)
    if overrides:
        merged = config.model_dump()
        merged.update(overrides)
        try:
            config = StudyConfig.model_validate(merged)
        except ValueError as err:
            raise XraySSLError(f"{path}: {err}") from None
    return config
