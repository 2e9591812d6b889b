"""The Python API: the pipeline from a notebook, and a policy inside one's own training loop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

import xrayssl


def test_a_policy_is_a_module_with_seeded_draws() -> None:
    policy = xrayssl.Policy("crop(scale=0.5-1)+flip+chessboard")
    assert isinstance(policy, torch.nn.Module)
    batch = torch.rand(6, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    first = policy(batch, torch.Generator().manual_seed(0))
    again = policy(batch, torch.Generator().manual_seed(0))
    other = policy(batch, torch.Generator().manual_seed(1))
    assert first.shape == batch.shape and torch.equal(first, again)
    assert not torch.equal(first, other)
    assert float(first.min()) >= 0.0 and float(first.max()) <= 1.0


def test_prepare_pretrain_probe_from_python(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 120, (120, 32, 32), dtype=np.uint8)
    labels = np.arange(120) % 2
    images[labels == 1, 10:20, 10:20] = 250  # a learnable sign of the abnormal class
    np.savez(tmp_path / "toy.npz", train_images=images[:90], train_labels=labels[:90, None],
             test_images=images[90:], test_labels=labels[90:, None])
    cache = xrayssl.prepare(tmp_path / "toy.npz", tmp_path / "cache", size=32, body_part="toy")
    assert len(cache) == 120 and cache.body_parts() == ["toy"]
    run = xrayssl.pretrain(cache, tmp_path / "run", epochs=1, batch_size=16, monitor=False,
                           workers=0)
    assert run.encoder_path.is_file() and run.epochs_completed == 1
    metrics = xrayssl.probe(tmp_path / "run", cache, fractions=[1.0], seeds=1, cv_folds=2,
                            cs=[0.1, 1.0], n_bootstrap=50)
    auroc = metrics.estimate("auroc", 1.0, split="val")
    assert auroc is not None and auroc.value is not None and auroc.value > 0.5
    assert xrayssl.prepare(tmp_path / "toy.npz", tmp_path / "cache", size=32,
                           body_part="toy").root == cache.root  # the same call reuses it


def test_unknown_names_are_attribute_errors() -> None:
    try:
        xrayssl.prepair  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as err:
        assert "prepair" in str(err)
    else:
        raise AssertionError("xrayssl.prepair should not exist")
