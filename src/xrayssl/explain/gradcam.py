"""Grad-CAM for X-ray encoders, through pytorch-grad-cam's ``GradCAM``.

Two targets:

* **with a probe**: the probe's ``as_linear()`` layer is appended to the encoder, so the
  network ends in the abnormality logit and the CAM shows what pushes that score up;
* **probe-free** (a bare SSL encoder): the target is the projection of the embedding onto
  the image's own (detached) embedding direction, ``<f(x), f0 / |f0|>`` with ``f0 = f(x)``.
  At ``f = f0`` this equals ``|f0| * cos(f, f0)``. The plain cosine is not used because it is
  at its maximum there, so its gradient is zero and the map would be empty.

Images are single-channel ``(B, 1, H, W)`` floats in [0, 1]; the CAM is computed on exactly
the tensor the encoder sees (the prepared, CLAHE image) and is shown over the original image
put through the same resize/pad geometry (see :func:`display_images`), unless asked otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.image import show_cam_on_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

from xrayssl.data.cache import PreparedCache
from xrayssl.errors import XraySSLError
from xrayssl.evaluate.features import Readout, with_readout

ShowOn = Literal["original", "prepared"]


class ProbeScoredEncoder(nn.Module):
    """Encoder read as the probe read it, then the probe's linear layer: (B, 1, H, W) ->
    (B, 1) abnormality logit.

    ``features`` is the module whose output the probe was fit on: the encoder itself (final
    readout) or its multi-scale pool, so the logit, and the scores that pick the sheet's cases,
    are exactly the probe's.
    """

    def __init__(self, features: nn.Module, linear: nn.Linear) -> None:
        super().__init__()
        if linear.out_features != 1:
            raise XraySSLError(
                f"the probe's linear layer has {linear.out_features} outputs; Grad-CAM needs "
                "one abnormality logit (a binary probe)"
            )
        self.features = features
        self.linear = linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features: torch.Tensor = self.features(x)  # (B, D)
        if features.shape[1] != self.linear.in_features:
            raise XraySSLError(
                f"the probe reads {self.linear.in_features} features and the encoder gives "
                f"{features.shape[1]}: the probe file belongs to another encoder or readout; "
                "pass the probe.json written beside this encoder.pt"
            )
        logits: torch.Tensor = self.linear(features)  # (B, 1)
        return logits


class OwnEmbeddingTarget:
    """Probe-free target: the embedding's length along its own detached direction."""

    def __init__(self, reference: torch.Tensor) -> None:
        # reference: (D,), the image's embedding computed without gradients
        self.direction = reference / reference.norm().clamp_min(1e-12)

    def __call__(self, model_output: torch.Tensor) -> torch.Tensor:
        # model_output: (D,) for one image, as pytorch-grad-cam passes it
        projection: torch.Tensor = (model_output * self.direction.to(model_output.device)).sum()
        return projection


@dataclass
class CamResult:
    """CAMs for a batch of images.

    ``cams``: (N, H, W) float32, each map scaled to [0, 1] (pytorch-grad-cam's min-max
    scaling after the ReLU). ``scores``: (N,) abnormality probability from the probe, or
    None in probe-free mode.
    """

    cams: np.ndarray
    scores: np.ndarray | None


def as_image_batch(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    """(B, H, W) or (B, 1, H, W) uint8/float -> (B, 1, H, W) float32 in [0, 1]."""
    tensor = torch.from_numpy(np.asarray(images)) if isinstance(images, np.ndarray) else images
    if tensor.dtype == torch.uint8:
        tensor = tensor.float().div_(255)
    if tensor.ndim == 3:
        tensor = tensor.unsqueeze(1)
    if tensor.ndim != 4 or tensor.shape[1] != 1:
        raise XraySSLError(
            f"Grad-CAM expects single-channel images shaped (B, 1, H, W) or (B, H, W); got "
            f"{tuple(tensor.shape)}. Convert colour images to grayscale first "
            "(xrayssl prepare does this)."
        )
    return tensor.float()


def compute_cams(
    encoder: nn.Module,
    images: torch.Tensor | np.ndarray,
    *,
    probe_linear: nn.Linear | None = None,
    readout: Readout = "final",
    target_layer: nn.Module | None = None,
    batch_size: int = 32,
    device: str | torch.device | None = None,
) -> CamResult:
    """Grad-CAM of ``encoder`` (plus ``probe_linear`` when given) for every image.

    ``readout``: the features the probe was fit on. With ``multiscale`` the logit reads every
    residual stage; the CAM is still taken at ``target_layer``, so it shows the evidence the
    last stage contributes to that logit (the earlier stages' pooled terms do not pass through
    it). ``target_layer`` defaults to ``encoder.gradcam_layer``. The encoder's train/eval mode
    and its parameters' ``requires_grad`` flags are left as they were.
    """
    layer = target_layer if target_layer is not None else getattr(encoder, "gradcam_layer", None)
    if not isinstance(layer, nn.Module):
        raise XraySSLError(
            f"{type(encoder).__name__} has no gradcam_layer; pass target_layer= the last "
            "convolutional block"
        )
    batch = as_image_batch(images)
    run_device = torch.device(device) if device is not None else _module_device(encoder)
    model: nn.Module = encoder if probe_linear is None else ProbeScoredEncoder(
        with_readout(encoder, readout), probe_linear
    )
    was_training = model.training
    model.to(run_device).eval()
    cams: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    cam = GradCAM(model=model, target_layers=[layer])
    try:
        for start in range(0, batch.shape[0], batch_size):
            chunk = batch[start : start + batch_size].to(run_device)
            with torch.no_grad():
                outputs = model(chunk)  # (b, 1) logits or (b, D) embeddings
            targets: list[object]
            if probe_linear is None:
                targets = [OwnEmbeddingTarget(row) for row in outputs]
            else:
                targets = [ClassifierOutputTarget(0) for _ in range(chunk.shape[0])]
                scores.append(torch.sigmoid(outputs[:, 0]).cpu().numpy())
            # An input that requires grad keeps the graph alive through a frozen encoder, so
            # the hooks on the target layer see gradients without touching parameter flags.
            chunk = chunk.detach().clone().requires_grad_(True)
            cams.append(np.asarray(cam(input_tensor=chunk, targets=targets), dtype=np.float32))
    finally:
        cam.activations_and_grads.release()
        model.train(was_training)
    return CamResult(
        cams=np.concatenate(cams, axis=0),
        scores=np.concatenate(scores).astype(np.float32) if scores else None,
    )


def _module_device(module: nn.Module) -> torch.device:
    for parameter in module.parameters():
        return parameter.device
    return torch.device("cpu")


def overlay(image_u8: np.ndarray, cam: np.ndarray, image_weight: float = 0.55) -> np.ndarray:
    """Heat map over a grayscale image: (H, W) uint8 + (h, w) in [0, 1] -> (H, W, 3) RGB uint8.

    The CAM is resized to the image when they differ (bilinear), and the gray image is
    replicated to three channels so no colour channel is mistaken for the signal.
    """
    if image_u8.ndim != 2:
        raise XraySSLError(f"overlay expects a grayscale (H, W) image, got {image_u8.shape}")
    height, width = image_u8.shape
    if cam.shape != (height, width):
        cam = cv2.resize(cam.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    rgb = np.repeat(image_u8[:, :, None], 3, axis=2).astype(np.float32) / 255.0
    heat = np.clip(cam, 0.0, 1.0).astype(np.float32)
    return np.asarray(show_cam_on_image(rgb, heat, use_rgb=True, image_weight=image_weight))


@dataclass
class DisplayImages:
    """The images CAMs are drawn over, and which of them fell back to the prepared image."""

    images: list[np.ndarray]  # each (S, S) uint8
    fallbacks: dict[int, str]  # position -> why the original could not be shown


def display_images(
    cache: PreparedCache, indices: Sequence[int], show_on: ShowOn = "original"
) -> DisplayImages:
    """The image under each CAM: the original through the cache's resize/pad geometry.

    The CAM is computed on the prepared (CLAHE) image, whose geometry equals
    ``geometry(original, size)``, so the two align pixel for pixel. An original that cannot be
    read is replaced by the prepared image and the reason is kept (the sheet says so).
    """
    images: list[np.ndarray] = []
    fallbacks: dict[int, str] = {}
    for position, index in enumerate(indices):
        prepared = np.asarray(cache.images[int(index)])
        if show_on == "prepared":
            images.append(prepared)
            continue
        try:
            images.append(_original_in_cache_geometry(cache, int(index)))
        except (OSError, ValueError, XraySSLError, ImportError) as err:
            fallbacks[position] = f"{cache.records[int(index)].path}: {err}"
            images.append(prepared)
    return DisplayImages(images=images, fallbacks=fallbacks)


def _original_in_cache_geometry(cache: PreparedCache, index: int) -> np.ndarray:
    from xrayssl.data.io import read_image
    from xrayssl.data.pixels import geometry

    path = cache.records[index].path
    if "#" not in path and not Path(path).exists():
        raise FileNotFoundError(f"original image not found at {path}")
    original = read_image(path)
    shown = np.asarray(geometry(original, cache.size), dtype=np.uint8)
    if shown.shape != (cache.size, cache.size):
        raise ValueError(f"geometry gave {shown.shape}, expected {(cache.size, cache.size)}")
    return shown
