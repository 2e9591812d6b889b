"""The spec language: canonical round trips, aliases, identity, and errors people can act on."""

from __future__ import annotations

import pytest
import torch

from xrayssl.augment.spec import Policy, parse_policy
from xrayssl.errors import XraySSLError

SPECS = [
    "crop(scale=0.3-1)+flip+rotation(deg=15)+checkerboard_mask(grid=4-8,p=0.5)",
    "rotation(p=1,deg=10)+gaussian_blur(p=0.2,sigma=1-2,kernel=3)+chessboard(p=1,grid=40)",
    "gaussian_blur(p=1,sigma=0.1-2)+random_erasing(fill=noise,scale=0.05-0.2)",
    "flip(vertical=true,horizontal=false)+jigsaw(grid=3)",
    "brightness_contrast(brightness=0.4,contrast=0)+gamma(gamma=0.8-1.25)",
    "gaussian_noise(std=1e-05-0.1)+sharpness(factor=0-3)+clahe(clip=2,grid=4)",
    " crop ( scale = 0.5 - 1 ) + flip ",
]


def batch(n: int = 4, size: int = 32) -> torch.Tensor:
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("spec", SPECS)
def test_canonical_spec_round_trips_to_the_same_policy(spec: str) -> None:
    policy = parse_policy(spec)
    again = parse_policy(policy.spec)
    assert again.spec == policy.spec
    x = batch()
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(policy(x, g1), again(x, g2))


def test_canonical_form_uses_full_names_and_leaves_defaults_out() -> None:
    policy = parse_policy(
        "crop(scale=0.3-1)+flip(p=0.5)+rotation(deg=15)+checkerboard_mask(grid=4-8,p=0.5)"
    )
    assert policy.spec == "random_resized_crop+flip+rotation+checkerboard_mask"
    assert parse_policy("checkerboard_mask(grid=6-6)").spec == "checkerboard_mask(grid=6)"
    assert parse_policy("chessboard(grid=20,shift=5.0)").spec == "chessboard"
    assert parse_policy("crop(scale=0.20000000000000001-1.0)").spec == (
        "random_resized_crop(scale=0.2-1)"
    )
    assert parse_policy("flip(vertical=True)").spec == "flip(vertical=true)"


@pytest.mark.parametrize("spec", ["", "identity", "  identity  "])
def test_identity_is_the_empty_policy(spec: str) -> None:
    policy = parse_policy(spec)
    assert isinstance(policy, Policy) and len(policy) == 0
    assert policy.spec == "identity"
    x = batch()
    assert torch.equal(policy(x), x)


def test_policy_output_keeps_shape_dtype_and_range() -> None:
    x = batch(6) * 1.0
    out = parse_policy(SPECS[0] + "+brightness_contrast(p=1,brightness=0.5)")(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_policy_refuses_a_batch_of_the_wrong_shape() -> None:
    with pytest.raises(ValueError, match="float batch"):
        parse_policy("flip")(torch.rand(1, 32, 32))


def error_for(spec: str) -> str:
    with pytest.raises(XraySSLError) as info:
        parse_policy(spec)
    return str(info.value)


def caret_column(message: str) -> int:
    *_, spec_line, caret_line = message.splitlines()
    assert spec_line.startswith("  ")
    return caret_line.index("^") - 2


def test_unknown_op_points_at_it_and_suggests_the_near_name() -> None:
    message = error_for("crop+chesboard(grid=4-8)")
    assert "Did you mean 'chessboard'" in message
    assert "gaussian_blur" in message and "random_erasing" in message  # the known names
    assert caret_column(message) == len("crop+")


@pytest.mark.parametrize(
    ("spec", "expected", "column"),
    [
        ("flip(vertcal=true)", "Did you mean 'vertical'", 5),
        ("crop(scale=2)", "outside", 11),
        ("rotation(deg=1-2)", "not a range", 13),
        ("chessboard(grid=4.5)", "whole numbers", 16),
        ("crop(scale=0.8-0.3)", "above high end", 11),
        ("blur(kernel=4)", "must be odd", 0),
        ("random_erasing(fill=blue)", "zero|mean|noise", 20),
        ("flip(p=0.5", "expected ')'", 10),
        ("flip+", "expected an op name", 5),
        ("flip flip", "expected '+'", 5),
        ("flip(p=0.5,p=1)", "given twice", 11),
        ("flip(horizontal=false)", "horizontal or vertical", 0),
        ("flip+identity", "stands alone", 5),
        ("flip(vertical=yes)", "true or false", 14),
    ],
)
def test_errors_explain_and_point_at_the_character(spec: str, expected: str, column: int) -> None:
    message = error_for(spec)
    assert expected in message
    assert caret_column(message) == column


def test_a_non_string_spec_is_refused() -> None:
    with pytest.raises(XraySSLError, match="string"):
        parse_policy(3)  # type: ignore[arg-type]


def test_separable_affine_grid_equals_torchs() -> None:
    from torch.nn import functional as F

    from xrayssl.augment.base import affine_grid

    theta = torch.randn(5, 3, 3, generator=torch.Generator().manual_seed(0))
    ours = affine_grid(theta, 5, 12, 20, torch.float32)
    reference = F.affine_grid(theta[:, :2], [5, 1, 12, 20], align_corners=False)
    assert torch.allclose(ours, reference, atol=1e-5)


def test_large_cpu_batches_run_in_chunks_with_the_same_contract() -> None:
    from xrayssl.augment.spec import CPU_CHUNK

    x = torch.rand(1, 1, 16, 16).expand(CPU_CHUNK * 2 + 3, 1, 16, 16).contiguous()
    policy = parse_policy("crop+rotation(p=1)+gaussian_noise(p=1)")
    out = policy(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert torch.unique(out.flatten(1), dim=0).shape[0] == x.shape[0]  # no chunk repeats another
    assert torch.equal(out, policy(x, torch.Generator().manual_seed(0)))
