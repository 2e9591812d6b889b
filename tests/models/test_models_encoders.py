"""Encoders: shapes, 1-channel adaptation of RGB weights, export/import without pickles."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

from xrayssl.errors import XraySSLError
from xrayssl.models.encoders import (
    ENCODERS,
    build_encoder,
    load_encoder,
    save_encoder,
    size_hint,
)


@pytest.mark.parametrize(("name", "size", "dim"), [
    ("resnet18_small", 32, 512),
    ("resnet18", 64, 512),
    ("resnet50_small", 32, 2048),
    ("resnet_tiny", 64, 128),
    ("resnet_tiny_wide", 64, 256),
])
def test_encoder_maps_gray_images_to_features(name: str, size: int, dim: int) -> None:
    encoder = build_encoder(name, image_size=size).eval()
    out = encoder(torch.rand(2, 1, size, size))
    assert out.shape == (2, dim)
    assert encoder.feature_dim == dim
    assert encoder.spec == {"name": name, "image_size": size}
    assert any(isinstance(m, nn.Conv2d) for m in encoder.gradcam_layer.modules())


def test_small_variant_keeps_more_resolution_than_standard_stem() -> None:
    grabbed: dict[str, torch.Size] = {}
    for name in ("resnet18", "resnet18_small"):
        encoder = build_encoder(name, image_size=32).eval()
        hook = encoder.gradcam_layer.register_forward_hook(
            lambda _m, _i, out, name=name: grabbed.__setitem__(name, out.shape)
        )
        encoder(torch.rand(1, 1, 32, 32))
        hook.remove()
    assert grabbed["resnet18"][-1] == 1  # 32 / 32
    assert grabbed["resnet18_small"][-1] == 4  # 32 / 8: the stem no longer downsamples


def test_size_hint_states_the_real_feature_maps() -> None:
    """The warning for a standard stem on small images quotes the sizes the encoders produce."""
    sides = {}
    for name in ("resnet18", "resnet18_small"):
        encoder = build_encoder(name, image_size=64).eval()
        hook = encoder.gradcam_layer.register_forward_hook(
            lambda _m, _i, out, name=name: sides.__setitem__(name, out.shape[-1]))
        encoder(torch.rand(1, 1, 64, 64))
        hook.remove()
    hint = size_hint("resnet18", 64)
    assert hint is not None
    assert f"{sides['resnet18']}x{sides['resnet18']} feature map" in hint
    assert f"keeps {sides['resnet18_small']}x{sides['resnet18_small']}" in hint
    assert size_hint("resnet18", 128) is None
    assert size_hint("resnet18_small", 64) is None
    assert size_hint("resnet_tiny", 64) is None


def test_rgb_weights_are_summed_into_the_one_channel_stem(tmp_path: Path) -> None:
    rgb = torchvision.models.resnet18(weights=None)
    weights = tmp_path / "resnet18-imagenet.pth"
    torch.save(rgb.state_dict(), weights)
    encoder = build_encoder("resnet18", image_size=64, weights=weights)
    body = encoder.body
    assert isinstance(body, torchvision.models.ResNet)
    expected = rgb.conv1.weight.sum(dim=1, keepdim=True)
    torch.testing.assert_close(body.conv1.weight, expected)
    torch.testing.assert_close(body.layer3[0].conv1.weight, rgb.layer3[0].conv1.weight)
    assert "fc.weight" in encoder.spec["not_loaded"]


def test_unknown_encoder_names_the_known_ones() -> None:
    with pytest.raises(XraySSLError, match="resnet18_small"):
        build_encoder("resnet18_smal", image_size=32)
    assert "resnet34" in ENCODERS


def test_timm_encoder_takes_one_channel() -> None:
    pytest.importorskip("timm")
    encoder = build_encoder("timm:resnet10t", image_size=32).eval()
    out = encoder(torch.rand(2, 1, 32, 32))
    assert out.shape == (2, encoder.feature_dim)
    assert encoder.spec["name"] == "timm:resnet10t"


def test_export_round_trip_gives_identical_features(tmp_path: Path) -> None:
    encoder = build_encoder("resnet18_small", image_size=32).eval()
    with torch.no_grad():
        for p in encoder.parameters():
            p.add_(0.01 * torch.randn_like(p))
    path = tmp_path / "encoder.pt"
    save_encoder(encoder, path, {"method": "simclr", "epochs": 3})
    loaded, meta = load_encoder(path)
    loaded.eval()
    x = torch.rand(3, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), encoder(x))
    assert meta == {"method": "simclr", "epochs": 3}
    assert loaded.spec == encoder.spec


class Payload:
    """Unpickling this makes a folder: proof that pickled code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (str(self.marker),))


def test_foreign_files_fail_clearly_and_never_run_pickles(tmp_path: Path) -> None:
    evil = tmp_path / "evil.pt"
    marker = tmp_path / "pickle-ran"
    evil.write_bytes(pickle.dumps({"format": Payload(marker)}, protocol=2))
    with pytest.raises(XraySSLError, match="not an xrayssl encoder"):
        load_encoder(evil)
    assert not marker.exists()
    bare = tmp_path / "bare.pt"
    torch.save(build_encoder("resnet18_small", image_size=32).state_dict(), bare)
    with pytest.raises(XraySSLError, match="not an xrayssl encoder"):
        load_encoder(bare)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(XraySSLError, match="not an xrayssl encoder"):
        load_encoder(text)
    with pytest.raises(XraySSLError, match="not found"):
        load_encoder(tmp_path / "missing.pt")


def test_tiny_resnet_is_a_fraction_of_resnet18() -> None:
    tiny = build_encoder("resnet_tiny", image_size=64)
    full = build_encoder("resnet18", image_size=64)
    n_tiny = sum(p.numel() for p in tiny.parameters())
    n_full = sum(p.numel() for p in full.parameters())
    assert n_tiny * 20 < n_full
    # Grad-CAM hooks the last stage: at 64 px it still has a spatial map (4x4).
    maps: list[torch.Tensor] = []
    handle = tiny.gradcam_layer.register_forward_hook(lambda m, i, o: maps.append(o))
    tiny.eval()(torch.rand(1, 1, 64, 64))
    handle.remove()
    assert maps[0].shape[-2:] == (4, 4)
