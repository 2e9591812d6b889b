"""Behaviour of every registered op: the contract each op keeps, then op-specific checks."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from kornia.enhance import equalize_clahe
from kornia.filters import gaussian_blur2d

from xrayssl.augment.ops import OPS, AugmentOp
from xrayssl.augment.params import as_int_range, as_range
from xrayssl.augment.spec import parse_policy

SIZE = 32

# Each op at p=1 with settings whose result varies from sample to sample.
STRONG = {
    "brightness_contrast": "brightness_contrast(p=1)",
    "checkerboard_mask": "checkerboard_mask(p=1)",
    "chessboard": "chessboard(p=1,grid=64,shift=32)",  # 8 px cells, shifts -3..3 at 32 px
    "clahe": "clahe(p=1,grid=2)",
    "flip": "flip(p=1,vertical=true)",
    "gamma": "gamma(p=1)",
    "gaussian_blur": "gaussian_blur(p=1,sigma=0.5-2)",
    "gaussian_noise": "gaussian_noise(p=1)",
    "jigsaw": "jigsaw(p=1)",
    "random_erasing": "random_erasing(p=1,scale=0.05-0.3)",
    "random_resized_crop": "random_resized_crop(p=1)",
    "rotation": "rotation(p=1,deg=30)",
    "sharpness": "sharpness(p=1)",
}
# Ops whose per-sample choice is discrete: samples may coincide, just not all of them. CLAHE's
# clip limit becomes an integer count per histogram bin (as in OpenCV), so few values differ.
MIN_DISTINCT = {"flip": 2, "clahe": 4}
# Ops that draw noise images: CPU and CUDA results differ by design (different noise streams).
NOISY = {"gaussian_noise"}


def radiograph_like(n: int, size: int = SIZE, seed: int = 0) -> torch.Tensor:
    """(n, 1, size, size) in [0, 1]: an off-centre bright blob on a ramp, plus noise; no
    symmetry, so flips and rotations always show."""
    g = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size),
                            indexing="ij")
    blob = torch.exp(-((ys - 0.3) ** 2 + (xs + 0.2) ** 2) / 0.2)
    base = 0.15 + 0.2 * (xs + 1) / 2 + 0.5 * blob
    noise = 0.05 * torch.randn(n, 1, size, size, generator=g)
    return (base + noise).clamp(0, 1)


def op_from(spec: str) -> AugmentOp:
    policy = parse_policy(spec)
    assert len(policy.ops) == 1
    return policy.ops[0]  # type: ignore[return-value]


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_every_registered_op_is_covered() -> None:
    assert set(STRONG) == set(OPS.names())


@pytest.mark.parametrize("name", sorted(STRONG))
def test_declared_params_match_constructor_defaults(name: str) -> None:
    cls = OPS.get(name)
    signature = inspect.signature(cls.__init__)
    declared = {param.name: param.default for param in cls.params}
    accepted = {k: v.default for k, v in signature.parameters.items() if k != "self"}
    assert declared == accepted
    op = cls()
    for param in cls.params:  # the default instance reports its defaults back
        value = getattr(op, param.name)
        if param.kind == "float_range":
            assert value == as_range(param.default)  # type: ignore[arg-type]
        elif param.kind == "int_range":
            assert value == as_int_range(param.default)  # type: ignore[arg-type]
        else:
            assert value == param.default
    assert op.spec == name


@pytest.mark.parametrize("name", sorted(STRONG))
def test_shape_dtype_and_range(name: str) -> None:
    x = radiograph_like(6)
    for op in (op_from(STRONG[name]), OPS.get(name)()):
        out = op(x, seeded())
        assert out.shape == x.shape
        assert out.dtype == torch.float32
        assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
        assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", sorted(STRONG))
def test_p0_is_exactly_the_identity(name: str) -> None:
    x = radiograph_like(5)
    op = op_from(f"{name}(p=0)")
    assert torch.equal(op(x, seeded()), x)
    assert torch.equal(parse_policy(f"{name}(p=0)+{name}(p=0)")(x, seeded()), x)


@pytest.mark.parametrize("name", sorted(STRONG))
def test_p1_changes_every_sample(name: str) -> None:
    x = radiograph_like(16)
    out = op_from(STRONG[name])(x, seeded())
    change = (out - x).abs().flatten(1).amax(dim=1)  # (16,) largest change per sample
    assert (change > 1e-3).all(), change


@pytest.mark.parametrize("name", sorted(STRONG))
def test_parameters_are_drawn_per_sample(name: str) -> None:
    size = 64  # CLAHE tiles need pixels for the clip limit to matter
    x = radiograph_like(1, size).expand(8, 1, size, size).contiguous()  # eight identical samples
    out = op_from(STRONG[name])(x, seeded(1)).flatten(1)
    distinct = torch.unique(out, dim=0).shape[0]
    assert distinct >= MIN_DISTINCT.get(name, 8)


@pytest.mark.parametrize("name", sorted(STRONG))
def test_seeded_generator_repeats_and_global_rng_is_unused(name: str) -> None:
    x = radiograph_like(6)
    op = op_from(f"{name}(p=0.5)")
    torch.manual_seed(123)
    first = op(x, seeded(7))
    torch.manual_seed(456)  # a different global state must not matter
    second = op(x, seeded(7))
    assert torch.equal(first, second)
    strong = op_from(STRONG[name])
    assert not torch.equal(strong(x, seeded(7)), strong(x, seeded(8)))


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(STRONG))
def test_cuda_matches_cpu(name: str) -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    x = radiograph_like(6)
    op = op_from(STRONG[name])
    on_gpu = op(x.cuda(), seeded(3))
    assert on_gpu.device.type == "cuda" and on_gpu.shape == x.shape
    assert float(on_gpu.min()) >= 0.0 and float(on_gpu.max()) <= 1.0
    assert torch.equal(on_gpu, op(x.cuda(), seeded(3)))
    if name not in NOISY:  # same seed, same parameters: the same images up to rounding
        on_cpu = op(x, seeded(3))
        assert (on_gpu.cpu() - on_cpu).abs().mean() < 1e-3


# ---- op-specific checks ---------------------------------------------------------------


def cells_of(image: torch.Tensor, cell: int) -> torch.Tensor:
    """(rows * cols, cell * cell): the pixels of every whole cell of ``image: (H, W)``."""
    rows, cols = image.shape[0] // cell, image.shape[1] // cell
    inner = image[: rows * cell, : cols * cell]
    return inner.reshape(rows, cell, cols, cell).permute(0, 2, 1, 3).reshape(rows * cols, -1)


def test_chessboard_keeps_each_cells_histogram_and_the_strip_past_the_last_cell() -> None:
    x = torch.rand(6, 1, 70, 70, generator=seeded(4))  # 70 = 3 whole 20 px cells + 10 px strip
    out = op_from("chessboard(p=1,grid=73)")(x, seeded())  # 73 px at 256 -> 20 px at 70
    assert not torch.equal(out, x)
    for sample in range(6):
        before, after = cells_of(x[sample, 0], 20), cells_of(out[sample, 0], 20)
        assert torch.equal(before.sort(dim=1).values, after.sort(dim=1).values)
    assert torch.equal(out[:, :, 60:, :], x[:, :, 60:, :])  # rows past the last whole cell
    assert torch.equal(out[:, :, :, 60:], x[:, :, :, 60:])  # columns past it


def test_chessboard_rolls_each_cell_like_np_roll_along_x_then_y() -> None:
    x = torch.rand(3, 2, 256, 256, generator=seeded(5))  # two channels, mixed content
    op = op_from("chessboard(p=1)")
    out = op(x, seeded(9))
    shift_y, shift_x = op.cell_shifts(3, 12, 12, 256, seeded(9), torch.device("cpu"))
    expected = x.numpy().copy()
    for sample in range(3):
        for row in range(12):
            for col in range(12):
                ys, xs = slice(row * 20, row * 20 + 20), slice(col * 20, col * 20 + 20)
                cell = expected[sample, :, ys, xs]
                rolled = np.roll(cell, int(shift_x[sample, row, col]), axis=2)
                expected[sample, :, ys, xs] = np.roll(rolled, int(shift_y[sample, row, col]),
                                                      axis=1)
    assert np.array_equal(out.numpy(), expected)
    assert torch.equal(out[:, :, 240:], x[:, :, 240:])  # the 16 px strip at 256 px


@pytest.mark.parametrize(("side", "probabilities"), [
    (256, {0: 0.2, **{k: 0.1 for k in (-4, -3, -2, -1, 1, 2, 3, 4)}}),  # int(uniform(-5, 5))
    (128, {0: 0.4, 1: 0.2, -1: 0.2, 2: 0.1, -2: 0.1}),  # int(uniform(-2.5, 2.5))
])
def test_chessboard_shift_distribution_is_the_seeds(
    side: int, probabilities: dict[int, float]
) -> None:
    op = op_from("chessboard")
    shift_y, shift_x = op.cell_shifts(200, 10, 10, side, seeded(), torch.device("cpu"))
    for shifts in (shift_y, shift_x):
        values, counts = shifts.unique(return_counts=True)
        share = dict(zip(values.tolist(), (counts / shifts.numel()).tolist(), strict=True))
        assert set(share) == set(probabilities)
        for value, expected in probabilities.items():
            assert abs(share[value] - expected) < 0.01, (value, share[value])
    # the two axes and the cells are drawn independently
    assert abs(float(torch.corrcoef(torch.stack([shift_y.flatten().float(),
                                                 shift_x.flatten().float()]))[0, 1])) < 0.02


def test_chessboard_scales_cell_and_shift_with_the_image_side() -> None:
    op = op_from("chessboard")
    assert [op.cell_pixels(side) for side in (256, 128, 512, 64)] == [20, 10, 40, 5]
    x = torch.rand(4, 1, 128, 128, generator=seeded(1))
    out = op(x, seeded(2))
    moved = (out != x)[:, 0]
    assert not moved[:, 120:].any() and not moved[:, :, 120:].any()  # 12 cells of 10 px
    shift_y, _ = op.cell_shifts(4, 12, 12, 128, seeded(2), torch.device("cpu"))
    assert int(shift_y.abs().max()) == 2


def test_chessboard_is_reproducible_and_differs_per_sample_and_cell() -> None:
    x = radiograph_like(1, 64).expand(4, 1, 64, 64).contiguous()
    op = op_from("chessboard(p=1,grid=64,shift=24)")  # 16 px cells, shifts -5..5 at 64 px
    first, second = op(x, seeded(3)), op(x, seeded(3))
    assert torch.equal(first, second)
    assert torch.unique(first.flatten(1), dim=0).shape[0] == 4
    shift_y, shift_x = op.cell_shifts(4, 4, 4, 64, seeded(3), torch.device("cpu"))
    assert torch.unique(shift_y).numel() > 3 and torch.unique(shift_x).numel() > 3


def test_checkerboard_mask_hides_about_half_the_cells() -> None:
    ones = torch.ones(64, 1, 48, 48)
    out = op_from("checkerboard_mask(p=1,grid=4-8)")(ones, seeded())
    hidden = (out == 0).float().mean(dim=(1, 2, 3))  # (64,) fraction hidden per sample
    assert ((hidden > 0.3) & (hidden < 0.7)).all(), hidden
    assert abs(float(hidden.mean()) - 0.5) < 0.05


def test_checkerboard_mask_hidden_cells_form_a_checkerboard() -> None:
    ones = torch.ones(1, 1, 40, 40)
    out = op_from("checkerboard_mask(p=1,grid=4)")(ones, seeded(2))[0, 0]
    hidden = out == 0
    # neighbours one cell (10 px) apart always differ; two cells apart always agree
    assert torch.equal(hidden[:, 10:], ~hidden[:, :-10])
    assert torch.equal(hidden[20:, :], hidden[:-20, :])


def test_checkerboard_mask_fills() -> None:
    x = radiograph_like(4)
    mean = x.mean(dim=(2, 3), keepdim=True)
    out = op_from("checkerboard_mask(p=1,fill=mean)")(x, seeded())
    changed = out != x
    assert torch.allclose(out[changed], mean.expand_as(x)[changed])
    noisy = op_from("checkerboard_mask(p=1,fill=noise)")(x, seeded())
    assert float((noisy - x).abs().mean()) > 0.01


def centred_disc(n: int, size: int = 64) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(size) - size / 2 + 0.5,
                            torch.arange(size) - size / 2 + 0.5, indexing="ij")
    disc = ((ys**2 + xs**2).sqrt() < size * 0.35).float()
    ring = 0.3 + 0.5 * disc * (1 + torch.cos(xs / 3)) / 2  # texture inside the disc
    return (ring * disc).expand(n, 1, size, size).contiguous()


def test_rotation_preserves_the_mean_of_a_centred_disc() -> None:
    x = centred_disc(16)
    out = op_from("rotation(p=1,deg=90)")(x, seeded())
    assert not torch.allclose(out, x, atol=1e-2)
    ratio = out.mean(dim=(1, 2, 3)) / x.mean(dim=(1, 2, 3))
    assert ((ratio - 1).abs() < 0.01).all(), ratio


def test_flip_twice_is_the_identity_and_flip_matches_torch_flip() -> None:
    x = radiograph_like(4)
    flip = op_from("flip(p=1)")
    once = flip(x, seeded())
    assert torch.allclose(once, torch.flip(x, dims=[-1]), atol=1e-6)
    assert torch.allclose(flip(once, seeded(1)), x, atol=1e-6)
    assert torch.allclose(parse_policy("flip(p=1)+flip(p=1)")(x, seeded()), x, atol=1e-6)
    vertical = op_from("flip(p=1,horizontal=false,vertical=true)")(x, seeded())
    assert torch.allclose(vertical, torch.flip(x, dims=[-2]), atol=1e-6)


def test_full_crop_is_the_identity_and_small_crops_zoom() -> None:
    x = radiograph_like(3)
    full = op_from("random_resized_crop(scale=1,ratio=1)")(x, seeded())
    assert torch.allclose(full, x, atol=1e-5)
    ramp = torch.linspace(0, 1, SIZE).expand(2, 1, SIZE, SIZE).contiguous()
    zoomed = op_from("random_resized_crop(scale=0.25,ratio=1)")(ramp, seeded())
    span = zoomed[:, 0, 0, -1] - zoomed[:, 0, 0, 0]  # a quarter-area crop spans half the ramp
    assert torch.allclose(span, torch.full((2,), 0.5), atol=0.05)


def test_blur_matches_kornia_with_a_fixed_sigma() -> None:
    x = radiograph_like(3)
    out = op_from("gaussian_blur(p=1,sigma=1.5)")(x, seeded())
    assert torch.allclose(out, gaussian_blur2d(x, (11, 11), (1.5, 1.5)), atol=1e-6)
    seeds = op_from("gaussian_blur(p=1,sigma=1.5,kernel=3)")(x, seeded())  # the seed's kernel
    assert torch.allclose(seeds, gaussian_blur2d(x, (3, 3), (1.5, 1.5)), atol=1e-6)
    assert not torch.allclose(seeds, out, atol=1e-3)


def test_clahe_matches_kornias_public_function_with_a_fixed_clip() -> None:
    x = radiograph_like(3)
    out = op_from("clahe(p=1,clip=2,grid=4)")(x, seeded())
    assert torch.allclose(out, equalize_clahe(x, clip_limit=2.0, grid_size=(4, 4)), atol=1e-6)


def test_gamma_noise_and_brightness_have_their_stated_strength() -> None:
    x = radiograph_like(4)
    assert torch.allclose(op_from("gamma(p=1,gamma=2)")(x, seeded()), x**2, atol=1e-6)
    grey = torch.full((8, 1, 64, 64), 0.5)
    noisy = op_from("gaussian_noise(p=1,std=0.05)")(grey, seeded())
    assert abs(float((noisy - grey).std()) - 0.05) < 0.005
    scaled = op_from("brightness_contrast(p=1,brightness=0.3,contrast=0)")(grey, seeded())
    gains = scaled.mean(dim=(1, 2, 3)) / 0.5
    assert ((gains >= 0.7 - 1e-6) & (gains <= 1.3 + 1e-6)).all()
    assert float(gains.std()) > 0.01


def test_sharpness_factor_one_is_refused_and_zero_smooths() -> None:
    with pytest.raises(Exception, match="does nothing"):
        parse_policy("sharpness(factor=1)")
    x = radiograph_like(2)
    smooth = op_from("sharpness(p=1,factor=0)")(x, seeded())
    assert float(smooth.diff(dim=-1).abs().mean()) < float(x.diff(dim=-1).abs().mean())


def test_jigsaw_moves_tiles_without_changing_them() -> None:
    x = radiograph_like(4)
    out = op_from("jigsaw(p=1,grid=2)")(x, seeded())
    tiles_in = x.unfold(2, 16, 16).unfold(3, 16, 16).reshape(4, 4, -1)  # (4 samples, 4 tiles, px)
    tiles_out = out.unfold(2, 16, 16).unfold(3, 16, 16).reshape(4, 4, -1)
    for sample in range(4):
        key_in = sorted(t.sum().item() for t in tiles_in[sample])
        key_out = sorted(t.sum().item() for t in tiles_out[sample])
        assert key_in == pytest.approx(key_out)
    odd = radiograph_like(2, size=30)
    out_odd = op_from("jigsaw(p=1,grid=4)")(odd, seeded())
    assert torch.equal(out_odd[..., 28:, :], odd[..., 28:, :])  # the remainder stays put


def test_random_erasing_hides_one_box_of_the_requested_area() -> None:
    ones = torch.ones(32, 1, 40, 40)
    out = op_from("random_erasing(p=1,scale=0.05-0.2,ratio=0.5-2)")(ones, seeded())
    hidden = (out == 0).float().mean(dim=(1, 2, 3))
    assert ((hidden > 0.03) & (hidden < 0.23)).all(), hidden
    rows = (out == 0).any(dim=3).sum(dim=(1, 2)).float()  # box height per sample
    cols = (out == 0).any(dim=2).sum(dim=(1, 2)).float()
    assert torch.allclose(rows * cols / 1600, hidden, atol=1e-6)  # a single rectangle
