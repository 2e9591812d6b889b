"""Encoders: 1-channel image -> feature vector, built by name from a registry.

Every encoder takes ``(B, 1, H, W)`` float images in ``[0, 1]``, normalises them itself and
returns ``(B, feature_dim)`` features. It carries ``gradcam_layer`` (the last convolutional
block, where Grad-CAM hooks) and ``spec`` (the keyword arguments that rebuild it, so an
exported ``state_dict`` plus ``spec`` is a complete encoder).

Names:
- ``resnet18`` / ``resnet34`` / ``resnet50``: torchvision ResNets with a 1-channel 7x7 stem.
  ImageNet weights from a local file are adapted by summing the RGB filters of the stem.
- ``resnet18_small`` / ``resnet34_small`` / ``resnet50_small``: a 3x3 stride-1 stem and no
  max-pool, for 28-96 px inputs where the 4x downsampling of the usual stem throws away most
  of the image.
- ``timm:<model>``: any timm model with ``in_chans=1`` (optional extra ``xrayssl[timm]``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn

from xrayssl.atomic import atomic_output
from xrayssl.errors import XraySSLError
from xrayssl.models import tiny_resnet  # registers resnet_tiny
from xrayssl.models.encoder_registry import ENCODERS, GRAY_MEAN, GRAY_STD, Encoder, EncoderBuilder

__all__ = [
    "ENCODERS", "GRAY_MEAN", "GRAY_STD", "Encoder", "EncoderBuilder", "build_encoder",
    "load_encoder", "save_encoder", "size_hint", "tiny_resnet",
]


def load_weight_file(path: Path) -> dict[str, torch.Tensor]:
    """A local ImageNet state_dict (torchvision's .pth layout), loaded without running pickles."""
    if not path.is_file():
        raise XraySSLError(f"weights file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several unrelated types for a bad file
        raise XraySSLError(
            f"{path} is not a plain PyTorch state_dict ({type(err).__name__}); "
            "give the .pth file of a torchvision/timm model"
        ) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise XraySSLError(f"{path} does not hold a state_dict of tensors")
    return state


def adapt_to_one_channel(
    state: dict[str, torch.Tensor], model: nn.Module, source: Path
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Sum the RGB filters of 3-channel convolutions whose target takes one channel.

    Entries whose shapes still disagree (e.g. a 7x7 stem into a 3x3 stem, or a classifier) are
    dropped and returned by name, so the caller can record what was not loaded.
    """
    target = model.state_dict()
    adapted: dict[str, torch.Tensor] = {}
    dropped: list[str] = []
    for key, value in state.items():
        if key not in target:
            dropped.append(key)
            continue
        want = target[key].shape
        if value.ndim == 4 and value.shape[1] == 3 and want[1] == 1:
            value = value.sum(dim=1, keepdim=True)  # (O, 3, k, k) -> (O, 1, k, k)
        if value.shape != want:
            dropped.append(key)
            continue
        adapted[key] = value
    missing = [k for k in target if k not in adapted]
    if len(adapted) == 0:
        raise XraySSLError(f"no tensor in {source} matches the encoder; is it the right model?")
    return adapted, dropped + [f"(missing) {k}" for k in missing]


def build_resnet(depth: int, small: bool, image_size: int, weights: Path | None) -> Encoder:
    net: torchvision.models.ResNet = getattr(torchvision.models, f"resnet{depth}")(weights=None)
    if small:
        net.conv1 = nn.Conv2d(1, 64, kernel_size=3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    else:
        net.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    feature_dim = net.fc.in_features
    net.fc = nn.Identity()
    name = f"resnet{depth}_small" if small else f"resnet{depth}"
    spec: dict[str, Any] = {"name": name, "image_size": image_size}
    if weights is not None:
        state, skipped = adapt_to_one_channel(load_weight_file(weights), net, weights)
        net.load_state_dict(state, strict=False)
        spec["initialised_from"] = str(weights)
        spec["not_loaded"] = skipped
    return Encoder(net, feature_dim, net.layer4[-1], spec)


def register_resnets() -> None:
    for depth in (18, 34, 50):
        for small in (False, True):
            name = f"resnet{depth}_small" if small else f"resnet{depth}"

            def builder(
                image_size: int, weights: Path | None, depth: int = depth, small: bool = small
            ) -> Encoder:
                return build_resnet(depth, small, image_size, weights)

            ENCODERS.register(name)(builder)


register_resnets()


def build_timm(model_name: str, image_size: int, weights: Path | None) -> Encoder:
    try:
        import timm
    except ImportError:
        raise XraySSLError(
            f"encoder 'timm:{model_name}' needs timm: pip install 'xrayssl[timm]'"
        ) from None
    try:
        net = timm.create_model(model_name, pretrained=False, in_chans=1, num_classes=0)
    except RuntimeError as err:  # timm's "Unknown model"
        raise XraySSLError(f"timm has no model {model_name!r}: {err}") from None
    spec: dict[str, Any] = {"name": f"timm:{model_name}", "image_size": image_size}
    if weights is not None:
        state, skipped = adapt_to_one_channel(load_weight_file(weights), net, weights)
        net.load_state_dict(state, strict=False)
        spec["initialised_from"] = str(weights)
        spec["not_loaded"] = skipped
    # Typed as a Module attribute when timm is installed, Any when it is not: pin it to Any so
    # mypy gives the same verdict in both environments.
    num_features: Any = net.num_features
    feature_dim = int(num_features)
    return Encoder(net, feature_dim, timm_gradcam_layer(net), spec)


def timm_gradcam_layer(net: nn.Module) -> nn.Module:
    """The module of the deepest feature stage timm reports; else the last module with a conv."""
    feature_info = getattr(net, "feature_info", None)
    if feature_info:
        last = feature_info[-1]
        name = last["module"] if isinstance(last, dict) else None
        if isinstance(name, str) and name:
            return net.get_submodule(name)
    last_with_conv: nn.Module | None = None
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            last_with_conv = module
    if last_with_conv is None:
        raise XraySSLError("this timm model has no convolution for Grad-CAM to hook")
    return last_with_conv


def build_encoder(name: str, *, image_size: int, weights: Path | None = None) -> Encoder:
    """Build an encoder by registry name or ``timm:<model>``."""
    if image_size < 8:
        raise XraySSLError(f"image_size {image_size} is too small for an encoder (need >= 8)")
    if name.startswith("timm:"):
        return build_timm(name.removeprefix("timm:"), image_size, weights)
    return ENCODERS.get(name)(image_size, weights)


def check_encoder_name(name: str) -> None:
    """Fail now, as ``build_encoder`` would, on an encoder name it cannot build (an unknown
    registry name says "did you mean"); builds nothing."""
    if not name.startswith("timm:"):
        ENCODERS.get(name)
        return
    try:
        import timm
    except ImportError:
        raise XraySSLError(f"encoder {name!r} needs timm: pip install 'xrayssl[timm]'") from None
    model_name = name.removeprefix("timm:")
    if not timm.is_model(model_name):
        raise XraySSLError(f"timm has no model {model_name!r} (encoder {name!r})")


def size_hint(name: str, image_size: int) -> str | None:
    """Advice when a standard-stem ResNet meets small images (None when the pairing is fine).

    The usual stem and the four stages downsample 32x: a 64 px image ends as a 2x2 map, and
    on 64 px knee radiographs 16 CPU epochs of ``resnet18`` did not beat a random encoder.
    """
    if name not in ("resnet18", "resnet34", "resnet50") or image_size > 96:
        return None
    side, small_side = max(1, image_size // 32), max(1, image_size // 8)
    return (f"{name} reduces {image_size} px images to a {side}x{side} feature map; "
            f"{name}_small (3x3 stem, no max-pool) keeps {small_side}x{small_side} and suits "
            "28-96 px images")


# --- export: an encoder alone, as a state_dict with the spec that rebuilds it ----------------

ENCODER_FORMAT = "xrayssl.encoder"
ENCODER_FORMAT_VERSION = 1


def save_encoder(encoder: Encoder, path: Path, meta: dict[str, Any]) -> None:
    """Write ``encoder`` to ``path`` atomically.

    ``meta`` (method, policy, epochs, ...) is stored as JSON text, so loading never needs
    anything but plain tensors and strings and ``torch.load(weights_only=True)`` accepts it.
    """
    payload = {
        "format": ENCODER_FORMAT,
        "version": ENCODER_FORMAT_VERSION,
        "spec_json": json.dumps(encoder.spec, sort_keys=True),
        "meta_json": json.dumps(meta, sort_keys=True, default=str),
        "state_dict": {k: v.detach().cpu() for k, v in encoder.state_dict().items()},
    }
    with atomic_output(path) as tmp:
        torch.save(payload, tmp)


def load_encoder(path: Path) -> tuple[Encoder, dict[str, Any]]:
    """Rebuild an encoder written by :func:`save_encoder`; returns ``(encoder, meta)``.

    Never runs pickled code. A file that is not an xrayssl encoder fails with a message
    saying what it is not.
    """
    path = Path(path)
    if not path.is_file():
        raise XraySSLError(f"encoder file not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling errors come in several types
        raise XraySSLError(
            f"{path} is not an xrayssl encoder file (it cannot be read as plain tensors: "
            f"{type(err).__name__}). Export one with `xrayssl pretrain` or save_encoder()."
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != ENCODER_FORMAT:
        raise XraySSLError(
            f"{path} is not an xrayssl encoder file (no '{ENCODER_FORMAT}' marker). "
            "A Lightning checkpoint or a bare state_dict cannot be used directly; "
            "export the encoder with `xrayssl pretrain` or save_encoder()."
        )
    if payload.get("version") != ENCODER_FORMAT_VERSION:
        raise XraySSLError(
            f"{path} was written by another version of xrayssl "
            f"(encoder format {payload.get('version')}, expected {ENCODER_FORMAT_VERSION})"
        )
    spec = json.loads(payload["spec_json"])
    meta = json.loads(payload["meta_json"])
    encoder = build_encoder(spec["name"], image_size=int(spec["image_size"]))
    encoder.spec = spec
    try:
        encoder.load_state_dict(payload["state_dict"])
    except RuntimeError as err:
        raise XraySSLError(f"{path}: weights do not fit encoder {spec['name']!r}: {err}") from None
    return encoder, meta
