"""Losses and the momentum target against hand-written references on fixed tensors."""

from __future__ import annotations

import itertools
import math

import pretrain_tiny
import pytest
import torch
import torch.nn.functional as F
from lightly.loss import NTXentLoss

from xrayssl.augment.spec import parse_policy
from xrayssl.augment.views import TwoViews
from xrayssl.models.datamodule import PairViews
from xrayssl.models.encoders import build_encoder
from xrayssl.models.methods import build_method
from xrayssl.models.methods.base import Schedule, warmup_cosine
from xrayssl.models.methods.byol import BYOL
from xrayssl.models.methods.simclr import SimCLR


def reference_nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent of the SimCLR paper, written out: 2B anchors, one positive, 2B-2 negatives."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)  # (2B, D)
    n = z1.shape[0]
    sim = z @ z.T / temperature  # (2B, 2B)
    total = torch.zeros(())
    for i in range(2 * n):
        positive = (i + n) % (2 * n)
        others = [j for j in range(2 * n) if j != i]
        total = total - (sim[i, positive] - torch.logsumexp(sim[i, others], dim=0))
    return total / (2 * n)


def method(name: str, **options: object) -> torch.nn.Module:
    encoder = build_encoder(pretrain_tiny.TINY, image_size=16)
    views = PairViews(TwoViews(parse_policy("identity")))
    return build_method(name, encoder, views=views, schedule=Schedule(), options=options)


def test_nt_xent_equals_the_written_out_formula_and_lightly() -> None:
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    simclr = method("simclr", temperature=0.3)
    assert isinstance(simclr, SimCLR)
    ours = simclr.criterion(z1, z2)
    torch.testing.assert_close(ours, reference_nt_xent(z1, z2, 0.3))
    torch.testing.assert_close(ours, NTXentLoss(temperature=0.3)(z1, z2))


def test_simclr_pair_loss_is_nt_xent_of_the_projected_views() -> None:
    simclr = method("simclr", temperature=0.2, projection_dim=8)
    assert isinstance(simclr, SimCLR)
    simclr.eval()  # fixed BatchNorm statistics, so the two computations see the same nets
    g = torch.Generator().manual_seed(1)
    v1, v2 = torch.rand(4, 1, 16, 16, generator=g), torch.rand(4, 1, 16, 16, generator=g)
    z1, z2 = simclr.head(simclr.encoder(v1)), simclr.head(simclr.encoder(v2))
    torch.testing.assert_close(simclr.pair_loss(v1, v2), reference_nt_xent(z1, z2, 0.2))


def test_byol_loss_is_symmetric_negative_cosine_to_the_target() -> None:
    byol = method("byol", projection_dim=8, hidden_dim=16)
    assert isinstance(byol, BYOL)
    byol.eval()
    byol.total_steps = 10
    g = torch.Generator().manual_seed(2)
    v1, v2 = torch.rand(4, 1, 16, 16, generator=g), torch.rand(4, 1, 16, 16, generator=g)
    loss = byol.pair_loss(v1, v2)  # moves the target first, then compares
    with torch.no_grad():
        p1 = byol.predictor(byol.projector(byol.encoder(v1)))
        p2 = byol.predictor(byol.projector(byol.encoder(v2)))
        t1 = byol.target_projector(byol.target_encoder(v1))
        t2 = byol.target_projector(byol.target_encoder(v2))
    expected = -0.5 * (F.cosine_similarity(p1, t2).mean() + F.cosine_similarity(p2, t1).mean())
    torch.testing.assert_close(loss, expected)


def test_ema_target_moves_by_the_scheduled_amount_and_takes_no_gradient() -> None:
    byol = method("byol", projection_dim=8, hidden_dim=16, momentum_start=0.9)
    assert isinstance(byol, BYOL)
    byol.total_steps = 11
    with torch.no_grad():  # online and target differ, as they do after some training
        for p in byol.encoder.parameters():
            p.add_(torch.randn_like(p))
    online = [p.detach().clone() for p in byol.encoder.parameters()]
    before = [p.detach().clone() for p in byol.target_encoder.parameters()]
    step = 4
    m = byol.update_target(step)
    # cosine from 0.9 to 1 over steps 0..10: 1 - 0.1 * (cos(pi * 4 / 10) + 1) / 2
    expected_m = 1 - 0.1 * (math.cos(math.pi * step / 10) + 1) / 2
    assert m == pytest.approx(expected_m)
    for p, o, b in zip(byol.target_encoder.parameters(), online, before, strict=True):
        torch.testing.assert_close(p, expected_m * b + (1 - expected_m) * o)
    moved = sum(float((p - b).abs().sum()) for p, b in
                zip(byol.target_encoder.parameters(), before, strict=True))
    assert moved > 0

    byol.train()
    v = torch.rand(4, 1, 16, 16)
    byol.pair_loss(v, v.flip(-1)).backward()
    targets = [*byol.target_encoder.parameters(), *byol.target_projector.parameters()]
    assert all(not p.requires_grad and p.grad is None for p in targets)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in byol.encoder.parameters())


def test_warmup_then_cosine_learning_rate() -> None:
    factors = [warmup_cosine(s, warmup_steps=4, total_steps=12) for s in range(13)]
    assert factors[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert factors[4] == pytest.approx(1.0)
    assert factors[8] == pytest.approx(0.5)
    assert factors[12] == pytest.approx(0.0, abs=1e-12)
    assert all(a >= b for a, b in itertools.pairwise(factors[4:]))


def test_unknown_method_option_names_the_known_ones() -> None:
    from xrayssl.errors import XraySSLError

    with pytest.raises(XraySSLError, match="temperature"):
        method("simclr", temprature=0.1)
