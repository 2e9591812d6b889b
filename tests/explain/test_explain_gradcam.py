from __future__ import annotations

import numpy as np
import pytest
import torch
from explain_standins import RegionEncoder, sum_probe, two_square_image

from xrayssl.errors import XraySSLError
from xrayssl.explain.gradcam import as_image_batch, compute_cams, overlay

SIZE = 32
TOP_RIGHT = (slice(0, 16), slice(16, 32))
BOTTOM_LEFT = (slice(16, 32), slice(0, 16))


def peak(cam: np.ndarray) -> tuple[int, int]:
    row, col = np.unravel_index(int(np.argmax(cam)), cam.shape)
    return int(row), int(col)


@pytest.mark.parametrize("with_probe", [True, False])
@pytest.mark.parametrize("region", [TOP_RIGHT, BOTTOM_LEFT])
def test_cam_peaks_in_the_region_the_model_responds_to(
    with_probe: bool, region: tuple[slice, slice]
) -> None:
    encoder = RegionEncoder(SIZE, *region)
    result = compute_cams(
        encoder, two_square_image(SIZE), probe_linear=sum_probe() if with_probe else None
    )
    row, col = peak(result.cams[0])
    # both squares are in the image; only the one inside the model's region may light up
    assert region[0].start <= row < region[0].stop
    assert region[1].start <= col < region[1].stop
    other = BOTTOM_LEFT if region == TOP_RIGHT else TOP_RIGHT
    assert result.cams[0][other].max() < 0.05


def test_cam_shape_range_and_scores() -> None:
    images = two_square_image(SIZE).repeat(5, 1, 1, 1)
    images[3] = 0.1  # nothing bright: the logit stays below zero, the CAM is empty
    result = compute_cams(RegionEncoder(SIZE, *TOP_RIGHT), images, probe_linear=sum_probe(),
                          batch_size=2)
    assert result.cams.shape == (5, SIZE, SIZE)
    assert result.cams.dtype == np.float32
    assert result.cams.min() >= 0.0 and result.cams.max() <= 1.0
    assert np.allclose(result.cams[[0, 1, 2, 4]].max(axis=(1, 2)), 1.0, atol=1e-5)
    assert result.cams[3].max() == 0.0
    assert result.scores is not None and result.scores.shape == (5,)
    assert result.scores[0] > 0.5 > result.scores[3]


def test_frozen_encoder_keeps_its_flags_and_mode() -> None:
    encoder = RegionEncoder(SIZE, *TOP_RIGHT)
    encoder.requires_grad_(False)
    encoder.train()
    result = compute_cams(encoder, two_square_image(SIZE))
    assert result.cams[0].max() == pytest.approx(1.0, abs=1e-5)
    assert encoder.training
    assert not any(p.requires_grad for p in encoder.parameters())


def test_grayscale_inputs() -> None:
    u8 = np.zeros((2, SIZE, SIZE), dtype=np.uint8)
    u8[:, 4:10, 22:28] = 255
    batch = as_image_batch(u8)
    assert batch.shape == (2, 1, SIZE, SIZE) and float(batch.max()) == 1.0
    with pytest.raises(XraySSLError, match="single-channel"):
        as_image_batch(torch.zeros(1, 3, SIZE, SIZE))


def test_overlay_is_rgb_on_the_gray_image() -> None:
    image = np.full((40, 40), 128, dtype=np.uint8)
    cam = np.zeros((20, 20), dtype=np.float32)
    cam[:10, :10] = 1.0
    rgb = overlay(image, cam)
    assert rgb.shape == (40, 40, 3) and rgb.dtype == np.uint8
    # jet colormap: hot (red) where the CAM is high, cold (blue) where it is zero
    assert rgb[5, 5, 0] > rgb[5, 5, 2]
    assert rgb[35, 35, 2] > rgb[35, 35, 0]


def test_probe_with_several_outputs_is_refused() -> None:
    with pytest.raises(XraySSLError, match="one abnormality logit"):
        compute_cams(RegionEncoder(SIZE, *TOP_RIGHT), two_square_image(SIZE),
                     probe_linear=torch.nn.Linear(4, 2))


@pytest.mark.gpu
@pytest.mark.parametrize("with_probe", [True, False])
def test_cams_on_cuda_match_cpu(with_probe: bool) -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    from xrayssl.models.encoders import build_encoder

    torch.manual_seed(0)
    encoder = build_encoder("resnet18_small", image_size=32)
    probe = torch.nn.Linear(encoder.feature_dim, 1) if with_probe else None
    images = torch.rand(6, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    on_cpu = compute_cams(encoder, images, probe_linear=probe, device="cpu")
    on_gpu = compute_cams(encoder, images, probe_linear=probe, device="cuda")
    # TF32 convolutions on the GPU: maps agree closely, not bit for bit
    assert np.abs(on_cpu.cams - on_gpu.cams).max() < 0.05
    if with_probe:
        assert on_cpu.scores is not None and on_gpu.scores is not None
        assert np.allclose(on_cpu.scores, on_gpu.scores, atol=1e-3)
