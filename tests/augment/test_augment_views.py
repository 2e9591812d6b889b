"""Two views for SSL: symmetric (one policy) and asymmetric (one policy per view)."""

from __future__ import annotations

import pytest
import torch

from xrayssl.augment.spec import parse_policy
from xrayssl.augment.views import TwoViews, parse_views
from xrayssl.errors import XraySSLError


def batch() -> torch.Tensor:
    return torch.rand(8, 1, 32, 32, generator=torch.Generator().manual_seed(0))


def test_symmetric_views_are_two_independent_draws_of_one_policy() -> None:
    views = TwoViews(parse_policy("crop+rotation(p=1)"))
    assert views.symmetric and views.spec == "random_resized_crop+rotation(p=1)"
    x = batch()
    v1, v2 = views(x, torch.Generator().manual_seed(1))
    assert v1.shape == v2.shape == x.shape
    assert not torch.allclose(v1, v2)
    w1, w2 = views(x, torch.Generator().manual_seed(1))
    assert torch.equal(v1, w1) and torch.equal(v2, w2)


def test_asymmetric_views_use_a_policy_each() -> None:
    views = TwoViews(parse_policy("gaussian_blur(p=1)"), parse_policy("identity"))
    assert not views.symmetric
    x = batch()
    v1, v2 = views(x)
    assert torch.equal(v2, x)
    assert not torch.allclose(v1, x)
    assert views.spec == "gaussian_blur(p=1) | identity"


def test_parse_views_reads_one_or_two_policies() -> None:
    assert parse_views("flip+crop").symmetric
    two = parse_views("crop+gaussian_blur(p=1) | crop+gamma")
    assert two.spec == "random_resized_crop+gaussian_blur(p=1) | random_resized_crop+gamma"
    assert parse_views(two.spec).spec == two.spec
    with pytest.raises(XraySSLError, match="3 parts"):
        parse_views("flip | crop | gamma")
