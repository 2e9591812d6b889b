"""What the probe reads: the final pooled features or every residual stage's pooled output."""

from __future__ import annotations

import pytest
import torch

from xrayssl.config.probe import ProbeConfig
from xrayssl.errors import XraySSLError
from xrayssl.evaluate.features import (
    MultiScalePooled,
    resnet_stages,
    resolve_readout,
    with_readout,
)
from xrayssl.evaluate.floors import RawPixels
from xrayssl.evaluate.run import evaluate_encoder
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


@pytest.mark.parametrize(("size", "expected"), [(28, "multiscale"), (64, "multiscale"),
                                                (96, "multiscale"), (128, "final"),
                                                (224, "final")])
def test_auto_is_the_recipe_readout_for_the_image_size(size: int, expected: str) -> None:
    encoder = build_encoder("resnet_tiny", image_size=size)
    assert resolve_readout("auto", encoder, size) == expected
    # an explicit choice is kept whatever the size
    assert resolve_readout("final", encoder, size) == "final"
    assert resolve_readout("multiscale", encoder, size) == "multiscale"


def test_auto_reads_the_final_vector_of_an_encoder_without_stages() -> None:
    assert resolve_readout("auto", RawPixels(8), 28) == "final"
    with pytest.raises(XraySSLError, match="unknown feature readout 'deep'"):
        resolve_readout("deep", RawPixels(8), 28)


def test_the_probe_records_the_readout_it_read(make_cache) -> None:
    cache = make_cache(n=96, size=28)
    encoder = build_encoder("resnet_tiny", image_size=28)
    fast = ProbeConfig(fractions=[1.0], seeds=1, n_bootstrap=10, cs=[1.0], cv_folds=2)
    assert fast.readout == "auto"
    result = evaluate_encoder(encoder, cache, config=fast, device="cpu")
    assert result.model["readout"] == "multiscale"
    assert result.model["feature_dim"] == 16 + 32 + 64 + 128
    assert result.evaluation["readout"] == "multiscale"
    pinned = evaluate_encoder(encoder, cache, config=fast.model_copy(update={"readout": "final"}),
                              device="cpu")
    assert pinned.model["readout"] == "final" and pinned.model["feature_dim"] == 128
