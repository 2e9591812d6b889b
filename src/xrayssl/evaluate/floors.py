"""Baselines every encoder is compared with, evaluated by the same probe and metric code.

- ``raw``: downsampled pixels -> the linear probe. The floor an encoder has to beat.
- ``random``: a randomly initialised encoder -> the linear probe (what architecture alone gives).
- ``imagenet``: an encoder initialised from local ImageNet weights -> the linear probe.
- ``supervised``: the same encoder trained end to end with the labels (plus a linear head),
  on the same label subsets, optionally with an augmentation policy.
- ``imagenet-linear``: the seed study's "supervised" model: a frozen ImageNet encoder (local
  weights) and a linear head trained on its features with the supervised trainer's loss,
  schedule and policy. Unlike ``imagenet`` the head is trained by gradient descent on
  augmented images, not fitted by the logistic-regression probe on plain ones.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupShuffleSplit
from torch import nn

from xrayssl.config.probe import SupervisedConfig
from xrayssl.data.cache import PreparedCache
from xrayssl.errors import XraySSLError
from xrayssl.evaluate.features import default_device, images_to_tensor

BASELINES = ("raw", "random", "imagenet", "supervised", "imagenet-linear")
TRAINED_BASELINES = ("supervised", "imagenet-linear")  # trained with labels, not probed


class RawPixels(nn.Module):
    """(B, 1, H, W) -> (B, size * size): area-averaged pixels, the simplest possible features."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self.feature_dim = size * size
        self.spec: dict[str, Any] = {"name": "raw_pixels", "size": size}
        self.pool = nn.AdaptiveAvgPool2d(size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled: torch.Tensor = self.pool(x)  # (B, 1, size, size)
        return pooled.flatten(1)  # (B, size * size)


def build_baseline_encoder(
    kind: str, *, encoder_name: str, image_size: int, seed: int = 0,
    weights: Path | None = None, raw_size: int = 32,
) -> nn.Module:
    """The frozen feature extractor of a probe baseline (``raw``, ``random`` or ``imagenet``)."""
    if kind == "raw":
        return RawPixels(min(raw_size, image_size))
    from xrayssl.models.encoders import build_encoder

    if kind == "random":
        # The encoder builder draws from torch's global generator; seed it in a forked scope
        # so the random init is reproducible without touching the caller's random state.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return build_encoder(encoder_name, image_size=image_size)
    if kind == "imagenet":
        if weights is None:
            raise XraySSLError(
                "the imagenet baseline needs a local weights file: --weights resnet18.pth"
            )
        return build_encoder(encoder_name, image_size=image_size, weights=weights)
    raise XraySSLError(f"unknown probe baseline {kind!r}; known: {', '.join(BASELINES)}")


class Classifier(nn.Module):
    """Encoder + linear head -> one logit per image."""

    def __init__(self, encoder: nn.Module, feature_dim: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(feature_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.head(self.encoder(x))  # (B, 1)
        return logits[:, 0]


@dataclass
class SupervisedResult:
    model: Classifier
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    selection: str = ""


def holdout_split(
    labels: np.ndarray, groups: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Patient-grouped (fit, holdout) positions; holdout is empty when it cannot hold both
    classes."""
    everything = np.arange(len(labels))
    if fraction <= 0 or len(np.unique(groups)) < 4:
        return everything, everything[:0]
    splitter = GroupShuffleSplit(n_splits=20, test_size=fraction, random_state=seed)
    for fit, held in splitter.split(everything, labels, groups):
        if len(np.unique(labels[held])) == 2 and len(np.unique(labels[fit])) == 2:
            return fit, held
    return everything, everything[:0]


@torch.inference_mode()
def predict_logits(
    model: nn.Module, cache: PreparedCache, indices: np.ndarray, batch_size: int,
    device: torch.device,
) -> np.ndarray:
    was_training = model.training
    model.eval()
    out = [
        model(images_to_tensor(cache.images[indices[s:s + batch_size]]).to(device)).float().cpu()
        for s in range(0, len(indices), batch_size)
    ]
    model.train(was_training)
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)


def train_supervised(
    encoder: nn.Module,
    cache: PreparedCache,
    indices: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    config: SupervisedConfig,
    seed: int,
    device: torch.device | None = None,
    freeze_encoder: bool = False,
) -> SupervisedResult:
    """Train ``encoder`` + a linear head end to end on ``cache`` images ``indices``.

    Positives are weighted by n_negative / n_positive (the loss counterpart of the probe's
    class_weight="balanced"). The epoch with the best AUROC on a patient-grouped holdout of the
    *training* subset is kept; the test set is never looked at. ``freeze_encoder`` trains the
    head alone: the encoder's weights and its batch-norm statistics stay as they came.
    """
    dev = device or default_device()
    labels = np.asarray(labels, dtype=np.int64)
    if len(np.unique(labels)) < 2:
        raise XraySSLError("supervised training needs both classes in its training labels")
    feature_dim = int(getattr(encoder, "feature_dim", 0))
    if feature_dim <= 0:
        raise XraySSLError("the encoder does not say its feature_dim")
    model = Classifier(encoder, feature_dim).to(dev)
    if freeze_encoder:
        encoder.requires_grad_(False)
    trained = model.head if freeze_encoder else model
    fit, held = holdout_split(labels, groups, config.holdout_fraction, seed)
    policy = _policy(config.policy)
    if policy is not None:
        policy = policy.to(dev)
    generator = torch.Generator().manual_seed(seed)
    aug_generator = torch.Generator(device=dev).manual_seed(seed)
    pos = float(labels[fit].sum())
    pos_weight = torch.tensor((len(fit) - pos) / max(pos, 1.0), device=dev)
    optimizer = torch.optim.AdamW(trained.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    result = SupervisedResult(model=model)
    best_score, best_state = -np.inf, None
    y_all = torch.from_numpy(labels).float()
    for epoch in range(config.epochs):
        model.train()
        if freeze_encoder:
            encoder.eval()  # batch norm keeps its ImageNet statistics
        order = fit[torch.randperm(len(fit), generator=generator).numpy()]
        total, seen = 0.0, 0
        for start in range(0, len(order), config.batch_size):
            batch = order[start:start + config.batch_size]
            if len(batch) < 2:  # batch norm cannot train on a single image
                continue
            x = images_to_tensor(cache.images[indices[np.sort(batch)]]).to(dev)
            y = y_all[np.sort(batch)].to(dev)
            if policy is not None:
                x = policy(x, aug_generator)
            loss = F.binary_cross_entropy_with_logits(model(x), y, pos_weight=pos_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            total += loss.item() * len(batch)
            seen += len(batch)
        schedule.step()
        row = {"epoch": float(epoch), "train_loss": total / max(seen, 1)}
        if len(held):
            logits = predict_logits(model, cache, indices[held], config.batch_size, dev)
            row["holdout_auroc"] = float(roc_auc_score(labels[held], logits))
            if row["holdout_auroc"] > best_score:
                best_score, result.best_epoch = row["holdout_auroc"], epoch
                best_state = copy.deepcopy(model.state_dict())
        result.history.append(row)
    if best_state is not None:
        model.load_state_dict(best_state)
        result.selection = f"best holdout AUROC of {config.epochs} epochs ({len(held)} images)"
    else:
        result.best_epoch = config.epochs - 1
        result.selection = f"last of {config.epochs} epochs (too few patients for a holdout)"
    return result


def _policy(spec: str) -> nn.Module | None:
    if spec.strip() in ("", "identity"):
        return None
    from xrayssl.augment.spec import parse_policy

    return parse_policy(spec)
