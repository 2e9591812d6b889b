"""What the probe reads: the final pooled features or every residual stage's pooled output."""

from __future__ import annotations

import pytest
import torch

from xrayssl.errors import XraySSLError
from xrayssl.evaluate.baselines import RawPixels
from xrayssl.evaluate.features import MultiScalePooled, resnet_stages, with_readout
from xrayssl.models.encoders import build_encoder


@pytest.mark.parametrize(("name", "widths"), [("resnet_tiny", (16, 32, 64, 128)),
                                              ("resnet18_small", (64, 128, 256, 512))])
def test_multiscale_concatenates_each_stage_mean(name: str, widths: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    encoder = build_encoder(name, image_size=32).eval()
    reader = with_readout(encoder, "multiscale")
    x = torch.rand(3, 1, 32, 32)
    with torch.no_grad():
        features = reader(x)  # (3, sum of widths)
        final = encoder(x)
    assert features.shape == (3, sum(widths))
    # The deepest stage's mean is the encoder's own final pooled vector.
    torch.testing.assert_close(features[:, -widths[-1]:], final)
    # The first stage's block, recomputed by hand, is the first slice.
    stages = resnet_stages(encoder)
    kept: list[torch.Tensor] = []
    handle = stages[0].register_forward_hook(lambda m, i, o: kept.append(o.mean(dim=(2, 3))))
    with torch.no_grad():
        encoder(x)
    handle.remove()
    torch.testing.assert_close(features[:, :widths[0]], kept[0])


def test_multiscale_leaves_no_hook_behind() -> None:
    encoder = build_encoder("resnet_tiny", image_size=32).eval()
    reader = MultiScalePooled(encoder)
    with torch.no_grad():
        reader(torch.rand(2, 1, 32, 32))
    assert all(not stage._forward_hooks for stage in resnet_stages(encoder))


def test_readouts_are_checked() -> None:
    assert with_readout(RawPixels(8), "final").__class__ is RawPixels
    with pytest.raises(XraySSLError, match="residual stages"):
        with_readout(RawPixels(8), "multiscale")
    with pytest.raises(XraySSLError, match="unknown feature readout 'deep'"):
        with_readout(RawPixels(8), "deep")  # type: ignore[arg-type]
