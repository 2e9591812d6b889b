"""Frozen-encoder features: eval mode, no augmentation, batched, optionally cached on disk.

The on-disk cache key is (encoder fingerprint, prepared-cache config hash, image size, the
exact indices), so a changed encoder, a re-prepared cache or a different subset can never be
served stale features.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from xrayssl.atomic import atomic_output
from xrayssl.data.cache import PreparedCache
from xrayssl.errors import XraySSLError


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def encoder_fingerprint(encoder: nn.Module) -> str:
    """Hash of the encoder's class, spec and every parameter/buffer value."""
    digest = hashlib.sha256(type(encoder).__qualname__.encode())
    digest.update(repr(getattr(encoder, "spec", None)).encode())
    for name, tensor in sorted(encoder.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


Readout = Literal["final", "multiscale"]
READOUTS: tuple[Readout, ...] = ("final", "multiscale")


def resnet_stages(encoder: nn.Module) -> list[nn.Module]:
    """The residual stages of an encoder's body, shallow to deep (empty when it has none).

    A stage is a ``layerN`` of a torchvision ResNet or, in a plain Sequential body such as
    ``resnet_tiny``'s, a Sequential of residual blocks.
    """
    body = getattr(encoder, "body", encoder)
    named = [getattr(body, f"layer{i}", None) for i in (1, 2, 3, 4)]
    if all(isinstance(m, nn.Module) for m in named):
        return [m for m in named if m is not None]
    return [
        child for child in body.children()
        if isinstance(child, nn.Sequential) and len(child) > 0
        and all(isinstance(block, BasicBlock | Bottleneck) for block in child)
    ]


class MultiScalePooled(nn.Module):
    """(B, 1, H, W) -> (B, sum of stage widths): each residual stage's output, averaged over
    its positions, side by side.

    The final pooled vector keeps only the deepest stage. A briefly trained encoder's early
    stages already hold edge and texture statistics the probe can use, and the probe's
    standardisation puts every stage on an equal footing.
    """

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.stages = resnet_stages(encoder)
        if not self.stages:
            raise XraySSLError(
                f"the multiscale readout needs a ResNet-style encoder with residual stages; "
                f"{type(encoder).__name__} has none (use the final readout)"
            )
        self.spec: dict[str, Any] = {"readout": "multiscale",
                                     "encoder": getattr(encoder, "spec", None)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled: list[torch.Tensor] = []

        def keep(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
            pooled.append(output.float().mean(dim=(2, 3)))  # (B, C_stage)

        # Hooks live for one forward only: the encoder is left as it was found.
        handles = [stage.register_forward_hook(keep) for stage in self.stages]
        try:
            self.encoder(x)
        finally:
            for handle in handles:
                handle.remove()
        return torch.cat(pooled, dim=1)  # (B, sum C_stage)


def resolve_readout(readout: str, encoder: nn.Module, image_size: int) -> Readout:
    """``auto`` -> the recipe's readout for this image size, ``final`` where the encoder has no
    residual stages to pool; ``final`` and ``multiscale`` stay as asked."""
    if readout != "auto":
        if readout not in READOUTS:
            raise XraySSLError(f"unknown feature readout {readout!r}; known: auto, "
                               f"{', '.join(READOUTS)}")
        return readout
    from xrayssl.models.recipe import recipe_for

    wants_stages = recipe_for(image_size).readout == "multiscale"
    return "multiscale" if wants_stages and resnet_stages(encoder) else "final"


def with_readout(encoder: nn.Module, readout: Readout) -> nn.Module:
    """The module whose output the probe reads: the encoder itself or its multi-scale pool."""
    if readout == "final":
        return encoder
    if readout == "multiscale":
        return MultiScalePooled(encoder)
    raise XraySSLError(f"unknown feature readout {readout!r}; known: {', '.join(READOUTS)}")


def feature_cache_path(
    cache_dir: Path, encoder_key: str, cache: PreparedCache, indices: np.ndarray
) -> Path:
    digest = hashlib.sha256()
    for part in (encoder_key, cache.config_hash, str(cache.size)):
        digest.update(part.encode())
        digest.update(b"|")
    digest.update(np.ascontiguousarray(indices, dtype=np.int64).tobytes())
    return Path(cache_dir) / f"features-{digest.hexdigest()[:24]}.npy"


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def images_to_tensor(images_u8: np.ndarray) -> torch.Tensor:
    """(B, S, S) uint8 -> (B, 1, S, S) float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images_u8)).float().div_(255).unsqueeze(1)


@torch.inference_mode()
def _compute(
    encoder: nn.Module, cache: PreparedCache, indices: np.ndarray, batch_size: int,
    device: torch.device,
) -> np.ndarray:
    chunks = []
    for start in range(0, len(indices), batch_size):
        batch = indices[start:start + batch_size]
        x = images_to_tensor(cache.images[batch]).to(device)  # (B, 1, S, S)
        chunks.append(encoder(x).float().cpu().numpy())  # (B, D)
    return np.concatenate(chunks) if chunks else np.zeros((0, 0), dtype=np.float32)


def extract_features(
    encoder: nn.Module,
    cache: PreparedCache,
    indices: np.ndarray,
    batch_size: int = 256,
    device: torch.device | str | None = None,
    *,
    cache_dir: Path | None = None,
    encoder_key: str | None = None,
) -> np.ndarray:
    """Features (N, D) float32 of ``cache`` images ``indices`` from the frozen ``encoder``.

    ``cache_dir`` turns on the on-disk cache; ``encoder_key`` (e.g. the encoder file's
    sha256) saves hashing the weights. The encoder's train/eval mode and device are restored.
    """
    indices = np.asarray(indices, dtype=np.int64)
    if len(indices) and (indices.min() < 0 or indices.max() >= len(cache)):
        raise XraySSLError(f"image indices out of range for the cache at {cache.root}")
    target: Path | None = None
    if cache_dir is not None:
        key = encoder_key or encoder_fingerprint(encoder)
        target = feature_cache_path(cache_dir, key, cache, indices)
        if target.is_file():
            cached = np.load(target)
            if cached.shape[0] == len(indices):
                return np.asarray(cached)
    dev = torch.device(device) if device is not None else default_device()
    first = next(iter(encoder.parameters()), None)
    home = first.device if first is not None else torch.device("cpu")
    was_training = encoder.training
    encoder.eval().to(dev)
    try:
        features = _compute(encoder, cache, indices, batch_size, dev)
    finally:
        encoder.train(was_training).to(home)
    if target is not None:
        _save_atomically(target, features)
    return features


def _save_atomically(path: Path, array: np.ndarray) -> None:
    with atomic_output(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, array)
