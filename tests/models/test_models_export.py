"""xrayssl export: plain torchvision/timm models load the weights and give the same features;
ONNX Runtime and TorchScript run the whole encoder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
from typer.testing import CliRunner

from xrayssl.cli import app
from xrayssl.errors import XraySSLError
from xrayssl.models.encoders import Encoder, build_encoder, save_encoder
from xrayssl.models.export import example_input, export_encoder


def trained_looking(name: str, size: int = 32) -> Encoder:
    """A random encoder whose BatchNorm statistics are not the defaults (as after training)."""
    torch.manual_seed(0)
    encoder = build_encoder(name, image_size=size)
    encoder.train()
    with torch.no_grad():
        for _ in range(2):
            encoder(torch.rand(8, 1, size, size))
    return encoder.eval()


def as_plain_input(encoder: Encoder, x: torch.Tensor) -> torch.Tensor:
    """What the README tells a user to feed the plain model: normalised, grey repeated to RGB."""
    return ((x - encoder.mean) / encoder.std).repeat(1, 3, 1, 1)


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_plain_torchvision_resnet_loads_the_export_and_gives_the_same_features(
    name: str, tmp_path: Path
) -> None:
    encoder = trained_looking(name)
    path = export_encoder(encoder, "torchvision", tmp_path / "w.pth")
    plain = getattr(torchvision.models, name)(num_classes=0)
    plain.load_state_dict(torch.load(path, weights_only=True))  # strict: every key fits
    plain.fc = torch.nn.Identity()
    plain.eval()
    x = example_input(encoder, batch=3)
    with torch.no_grad():
        ours, theirs = encoder(x), plain(as_plain_input(encoder, x))
    assert theirs.shape == ours.shape == (3, encoder.feature_dim)
    assert torch.allclose(theirs, ours, atol=1e-4, rtol=1e-4)


def test_plain_timm_resnet_loads_the_export_and_gives_the_same_features(tmp_path: Path) -> None:
    timm = pytest.importorskip("timm")
    encoder = trained_looking("resnet18")
    path = export_encoder(encoder, "timm", tmp_path / "w.pth")
    plain = timm.create_model("resnet18", pretrained=False, num_classes=0)
    plain.load_state_dict(torch.load(path, weights_only=True))
    plain.eval()
    x = example_input(encoder, batch=2)
    with torch.no_grad():
        assert torch.allclose(plain(as_plain_input(encoder, x)), encoder(x), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", ["resnet_tiny", "resnet18_small"])
@pytest.mark.parametrize("fmt", ["torchvision", "timm"])
def test_encoders_without_a_plain_twin_are_refused_for_state_dict_formats(
    name: str, fmt: str, tmp_path: Path
) -> None:
    with pytest.raises(XraySSLError, match=f"no {fmt} equivalent.*--format onnx"):
        export_encoder(build_encoder(name, image_size=32), fmt, tmp_path / "w.pth")
    assert not (tmp_path / "w.pth").exists()


def test_onnx_file_matches_pytorch_in_onnx_runtime(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    encoder = trained_looking("resnet_tiny")
    path = export_encoder(encoder, "onnx", tmp_path / "e.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = torch.rand(5, 1, 32, 32, generator=torch.Generator().manual_seed(1))  # other batch size
    (features,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        expected = encoder(x).numpy()
    assert features.shape == expected.shape == (5, 128)
    assert abs(features - expected).max() < 1e-4
    other = torch.rand(2, 1, 48, 40, generator=torch.Generator().manual_seed(2))  # H, W free
    (features,) = session.run(None, {session.get_inputs()[0].name: other.numpy()})
    with torch.no_grad():
        assert abs(features - encoder(other).numpy()).max() < 1e-4


def test_torchscript_file_runs_without_xrayssl_classes(tmp_path: Path) -> None:
    encoder = trained_looking("resnet18_small")
    path = export_encoder(encoder, "torchscript", tmp_path / "e.pt")
    loaded = torch.jit.load(str(path))
    x = torch.rand(4, 1, 32, 32)
    with torch.no_grad():
        assert torch.allclose(loaded(x), encoder(x), atol=1e-5)


def test_export_command_writes_beside_the_encoder_and_says_how_to_load(tmp_path: Path) -> None:
    encoder_path = tmp_path / "run" / "encoder.pt"
    encoder_path.parent.mkdir()
    save_encoder(trained_looking("resnet18"), encoder_path, {"format": "test"})
    runner = CliRunner()
    done = runner.invoke(app, ["export", str(tmp_path / "run"), "--format", "torchvision"])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "run" / "encoder.torchvision.pth").is_file()
    assert "torchvision.models.resnet18(num_classes=0)" in done.output
    assert "repeat(1, 3, 1, 1)" in done.output

    bad = runner.invoke(app, ["export", str(encoder_path), "--format", "keras"])
    assert bad.exit_code != 0 and "torchvision, timm, onnx, torchscript" in str(bad.exception)
