"""PretrainConfig: one self-supervised pretraining run (method, encoder, views, schedule)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from xrayssl.config.base import EMPTY_POLICY, StrictModel

PRECISIONS = ("auto", "32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true", "64-true",
              "32", "16", "bf16", "64")


class PretrainConfig(StrictModel):
    # What is trained.
    method: str = "simclr"  # a name in xrayssl.models.methods.METHODS
    encoder: str = "resnet18"  # a name in xrayssl.models.encoders.ENCODERS or "timm:<model>"
    weights: Path | None = None  # local ImageNet state_dict to start from (RGB stem is summed)
    image_size: int | None = Field(
        None, ge=8, description="train at this side; None = the cache's size (resized on device)"
    )
    method_options: dict[str, float | int | bool] = Field(
        default_factory=dict,
        description="keyword arguments of the method, e.g. temperature, projection_dim",
    )

    # The two views: augmentation specs (xrayssl.augment.spec), run on the training device.
    policy: str
    policy_b: str | None = None  # second view's policy (asymmetric, BYOL-style); None = same
    multi_view: bool = Field(
        False, description="positives are two different images of one study (MICLe) if it has two"
    )

    # Which images.
    splits: list[str] = Field(default_factory=lambda: ["train"])
    body_parts: list[str] | None = None

    # Schedule.
    epochs: int = Field(100, ge=1)
    batches_per_epoch: int | None = Field(
        None, ge=1, description="shorter epochs (more monitor points); None = the whole set"
    )
    batch_size: int = Field(256, ge=2, description="per device")
    optimizer: Literal["adamw", "lars"] = "adamw"
    lr: float | None = Field(
        None, gt=0, description="None = 1e-3 (adamw) or 0.3 (lars), times global batch / 256"
    )
    weight_decay: float | None = Field(None, ge=0, description="None = 1e-4 adamw, 1e-6 lars")
    warmup_epochs: float = Field(2.0, ge=0)
    seed: int = 0
    deterministic: bool = False

    # Hardware (Lightning Trainer arguments).
    accelerator: str = "auto"
    devices: int | str = "auto"
    num_nodes: int = Field(1, ge=1)
    strategy: str = "auto"
    precision: str = Field(
        "auto", description="auto = bf16-mixed / 16-mixed on GPU; on CPU bf16-mixed where it has "
        "native bf16 (AVX-512 BF16 or AMX), else 32-true; the run's saved config says which ran",
    )
    compile: bool = Field(
        False, description="torch.compile the encoder and heads before training: faster steps "
        "(bench/step.py) for a compile of some seconds at the start and when the monitor "
        "first runs",
    )
    sync_batchnorm: bool = Field(True, description="share BatchNorm statistics across GPUs")
    workers: int = Field(2, ge=0, description="DataLoader processes (they only read the cache)")
    threads: int | None = Field(
        None, ge=1, description="torch CPU threads; None = torch's default (one per core). "
        "The count changes how float sums are split, so a run repeats bit for bit only with "
        "the same count (it is recorded in pretrain.json)",
    )

    # Online kNN monitor on a labelled split, each epoch (it may prune or stop early, so it
    # reads val: the test split is never looked at before the report).
    monitor: bool = True
    monitor_split: Literal["val", "train"] = "val"
    monitor_k: int = Field(20, ge=1)
    monitor_max_bank: int = Field(4096, ge=1)
    monitor_max_query: int = Field(2048, ge=1)

    # Bookkeeping.
    logger: Literal["csv", "tensorboard", "mlflow", "wandb"] = Field(
        "csv", description="tracker beside the CSV log, offline, inside the run folder"
    )
    log_every_n_steps: int = Field(10, ge=1)
    progress: bool = True
    resume: bool = False

    @field_validator("method")
    @classmethod
    def _lower_method(cls, value: str) -> str:
        return value.strip().lower()

    @field_validator("policy", "policy_b")
    @classmethod
    def _policy_given(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError(EMPTY_POLICY)
        return value

    @field_validator("precision")
    @classmethod
    def _known_precision(cls, value: str) -> str:
        if value not in PRECISIONS:
            raise ValueError(f"precision {value!r} is not one of {', '.join(PRECISIONS)}")
        return value

    @field_validator("devices")
    @classmethod
    def _device_spelling(cls, value: int | str) -> int | str:
        # Lightning's spellings: a count, "auto", -1 (all), or ids like "0,1".
        text = str(value).strip()
        ids = [part.strip() for part in text.rstrip(",").split(",")]
        if text in ("auto", "-1") or (text != "0" and all(part.isdigit() for part in ids)):
            return value
        raise ValueError(f"devices {value!r}: give auto, a count such as 2, -1 for all, or "
                         "ids such as 0,1")

    @field_validator("splits")
    @classmethod
    def _some_split(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("give at least one split to pretrain on")
        return value

    def resolved_lr(self, global_batch: int) -> float:
        if self.lr is not None:
            return self.lr
        base = 1e-3 if self.optimizer == "adamw" else 0.3
        return base * global_batch / 256

    def resolved_weight_decay(self) -> float:
        if self.weight_decay is not None:
            return self.weight_decay
        return 1e-4 if self.optimizer == "adamw" else 1e-6
