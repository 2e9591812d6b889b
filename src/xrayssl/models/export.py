"""Export a pretrained encoder for use outside xrayssl: torchvision, timm, ONNX, TorchScript.

The state-dict formats are for plain, unmodified models:

- ``torchvision``: ``torchvision.models.resnet18(num_classes=0)`` (34, 50 alike) loads the file
  with ``strict=True``; set ``model.fc = torch.nn.Identity()`` afterwards to get features;
- ``timm``: ``timm.create_model("resnet18", num_classes=0)`` loads it (features out directly).

Both use the stock 3-channel stem. Our encoders see one grey channel, so the exported stem is
the 1-channel filter repeated over R, G and B and divided by 3: on a grey image repeated to three
channels it gives exactly the features of the 1-channel encoder. The plain model does not
normalise its input the way our encoder does, so its caller must (see :func:`input_recipe`):
``x`` in [0, 1], ``(x - mean) / std``, then ``x.repeat(1, 3, 1, 1)``.

``onnx`` and ``torchscript`` export the whole encoder (normalisation included) for any
encoder: input ``(B, 1, H, W)`` in [0, 1], output ``(B, feature_dim)``, batch size free.
Encoders without a torchvision/timm twin (``resnet_tiny``, the ``_small`` ResNets with their
3x3 stem) can only go to those two.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from typing import Any, Literal

import torch

from xrayssl.atomic import atomic_output
from xrayssl.errors import XraySSLError
from xrayssl.models.encoders import Encoder

ExportFormat = Literal["torchvision", "timm", "onnx", "torchscript"]
FORMATS: tuple[str, ...] = ("torchvision", "timm", "onnx", "torchscript")
SUFFIXES = {"torchvision": ".torchvision.pth", "timm": ".timm.pth", "onnx": ".onnx",
            "torchscript": ".torchscript.pt"}
# Our ResNets whose layers are torchvision's (and timm's) under the same names.
STANDARD_RESNETS = ("resnet18", "resnet34", "resnet50")
STEM = "conv1.weight"


def default_output(encoder_path: Path, fmt: str) -> Path:
    return encoder_path.with_name(encoder_path.stem + SUFFIXES[fmt])


def three_channel_stem(weight: torch.Tensor) -> torch.Tensor:
    """``(O, 1, k, k) -> (O, 3, k, k)``: equal on grey images repeated to RGB."""
    return weight.repeat(1, 3, 1, 1) / 3


def body_state(encoder: Encoder) -> dict[str, torch.Tensor]:
    # The body alone: the encoder's state also lists the Grad-CAM layer under a second name.
    return {k: v.detach().cpu().clone() for k, v in encoder.body.state_dict().items()}


def standard_resnet_state(encoder: Encoder, fmt: str) -> dict[str, torch.Tensor]:
    """torchvision/timm ``state_dict`` of a standard-stem ResNet encoder."""
    name = str(encoder.spec.get("name"))
    if name not in STANDARD_RESNETS:
        raise XraySSLError(
            f"--format {fmt}: encoder {name!r} has no {fmt} equivalent (only "
            f"{', '.join(STANDARD_RESNETS)} do; resnet_tiny and the _small ResNets have their "
            "own stems). Export it with --format onnx or --format torchscript"
        )
    state = body_state(encoder)
    state[STEM] = three_channel_stem(state[STEM])
    if fmt == "torchvision":
        # resnet(num_classes=0) keeps an empty Linear; the file carries it so strict loading
        # works. Its output is (B, 0): replace fc by Identity for the features.
        width = encoder.feature_dim
        state["fc.weight"] = torch.zeros(0, width)
        state["fc.bias"] = torch.zeros(0)
    return state


def timm_encoder_state(encoder: Encoder) -> dict[str, torch.Tensor]:
    """The state of a ``timm:<model>`` encoder for ``timm.create_model(model, num_classes=0)``."""
    net = encoder.body
    config: Any = getattr(net, "pretrained_cfg", None) or {}
    first_conv = config.get("first_conv")
    state = body_state(encoder)
    key = f"{first_conv}.weight" if isinstance(first_conv, str) else None
    if key is None or key not in state or state[key].shape[1] != 1:
        raise XraySSLError(
            f"timm model {encoder.spec.get('name')!r} does not name its 1-channel stem; "
            "export it with --format onnx or --format torchscript"
        )
    state[key] = three_channel_stem(state[key])
    return state


def state_for(encoder: Encoder, fmt: str) -> dict[str, torch.Tensor]:
    name = str(encoder.spec.get("name"))
    if fmt == "timm" and name.startswith("timm:"):
        return timm_encoder_state(encoder)
    if fmt == "torchvision" and name.startswith("timm:"):
        raise XraySSLError(
            f"--format torchvision: {name!r} is a timm model; use --format timm, onnx or "
            "torchscript"
        )
    return standard_resnet_state(encoder, fmt)


def example_input(encoder: Encoder, batch: int = 2) -> torch.Tensor:
    size = int(encoder.spec.get("image_size", 64))
    return torch.rand(batch, 1, size, size, generator=torch.Generator().manual_seed(0))


def export_onnx(encoder: Encoder, path: Path) -> None:
    for module in ("onnx", "onnxscript"):
        if importlib.util.find_spec(module) is None:
            raise XraySSLError(
                f"--format onnx needs the {module} package: pip install 'xrayssl[onnx]'"
            )
    # Batch, height and width stay free, as the input recipe promises (B, 1, H, W): the
    # encoders pool their last map, so any side from 16 px up gives the same feature width.
    batch = torch.export.Dim("batch", min=1)
    height, width = torch.export.Dim("height", min=16), torch.export.Dim("width", min=16)
    program = torch.onnx.export(
        encoder, (example_input(encoder),), input_names=["images"], output_names=["features"],
        dynamic_shapes={"x": {0: batch, 2: height, 3: width}}, dynamo=True, verbose=False,
    )
    if program is None:
        raise XraySSLError("the ONNX exporter returned no program")
    with atomic_output(path) as tmp:
        program.save(str(tmp))


def export_torchscript(encoder: Encoder, path: Path) -> None:
    # Tracing records the convolutions only; every encoder here is a fixed graph. PyTorch warns
    # that TorchScript is deprecated and that the input check becomes a constant: both are
    # known and harmless for a traced encoder.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.filterwarnings("ignore", message="Converting a tensor to a Python boolean")
        traced = torch.jit.trace(  # type: ignore[no-untyped-call]
            encoder, example_input(encoder), check_trace=False)
        with atomic_output(path) as tmp:
            torch.jit.save(traced, str(tmp))


def export_encoder(encoder: Encoder, fmt: str, path: Path) -> Path:
    """Write ``encoder`` in ``fmt`` to ``path``; returns the path."""
    if fmt not in FORMATS:
        raise XraySSLError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    encoder = encoder.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt in ("torchvision", "timm"):
        state = state_for(encoder, fmt)
        with atomic_output(path) as tmp:
            torch.save(state, tmp)
    elif fmt == "onnx":
        with torch.no_grad():
            export_onnx(encoder, path)
    else:
        with torch.no_grad():
            export_torchscript(encoder, path)
    return path


def input_recipe(encoder: Encoder, fmt: str) -> str:
    """How a user feeds the exported model, in one line."""
    mean, std = float(encoder.mean), float(encoder.std)
    if fmt in ("onnx", "torchscript"):
        return ("input: float (B, 1, H, W) grey images in [0, 1] (normalised inside); "
                f"output: (B, {encoder.feature_dim}) features")
    name = str(encoder.spec.get("name"))
    model = name.removeprefix("timm:")
    build = (f"torchvision.models.{model}(num_classes=0); then model.fc = torch.nn.Identity()"
             if fmt == "torchvision" else f"timm.create_model({model!r}, num_classes=0)")
    return (f"load into {build}; input: grey x in [0, 1], (x - {mean:.3f}) / {std:.3f}, "
            f"repeated to 3 channels: x.repeat(1, 3, 1, 1); output: (B, {encoder.feature_dim})")
