"""From cache to views: batches, sharding across ranks, study partners, device views, kNN."""

from __future__ import annotations

import numpy as np
import torch
from conftest import MakeCache

from xrayssl.augment.spec import parse_policy
from xrayssl.augment.views import TwoViews
from xrayssl.models.datamodule import CachePairs, EpochSampler, PairViews, step_seed
from xrayssl.models.encoders import Encoder
from xrayssl.models.monitor import KNNMonitor


def batches(dataset: CachePairs, world: int, rank: int, batch: int, epoch: int) -> list[set[int]]:
    sampler = EpochSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=3,
                           drop_last=True)
    sampler.set_epoch(epoch)
    items = list(sampler)
    out = []
    for start in range(0, len(items) - batch + 1, batch):
        out.append(set(dataset.__getitems__(items[start:start + batch])["index"].tolist()))
    return out


def test_a_global_batch_holds_the_same_images_on_one_or_two_ranks(make_cache: MakeCache) -> None:
    cache = make_cache(n=40, size=16)
    dataset = CachePairs(cache.root, np.arange(40))
    single = batches(dataset, world=1, rank=0, batch=8, epoch=2)
    rank0 = batches(dataset, world=2, rank=0, batch=4, epoch=2)
    rank1 = batches(dataset, world=2, rank=1, batch=4, epoch=2)
    assert [a | b for a, b in zip(rank0, rank1, strict=True)] == single
    assert batches(dataset, world=1, rank=0, batch=8, epoch=3) != single  # reshuffled per epoch


def test_rows_come_from_the_cache_unchanged(make_cache: MakeCache) -> None:
    cache = make_cache(n=16, size=16)
    dataset = CachePairs(cache.root, np.arange(16))
    batch = dataset.__getitems__([(0, 5), (0, 2)])
    assert batch["images"].dtype == torch.uint8
    assert torch.equal(batch["images"][0], torch.from_numpy(np.array(cache.images[5])))
    assert batch["index"].tolist() == [5, 2]


def test_multi_view_partners_are_other_images_of_the_same_study(make_cache: MakeCache) -> None:
    from xrayssl.models.datamodule import study_partners

    cache = make_cache(n=16, size=16)  # two images per study
    indices = np.arange(15)  # image 15 is left out, so image 14 has no partner
    partners = study_partners(cache, indices)
    dataset = CachePairs(cache.root, indices, partners, seed=0)
    for position in range(15):
        partner = dataset.partner_of(epoch=0, position=position)
        if position == 14:  # its partner (15) is not selected: the image pairs with itself
            assert partner == 14
        else:
            assert partner != position
            assert cache.records[partner].study_id == cache.records[position].study_id
    batch = dataset.__getitems__([(0, 0), (0, 3)])
    assert torch.equal(batch["partners"][0], torch.from_numpy(np.array(cache.images[1])))


def test_views_are_float_in_unit_range_and_resized_on_the_device() -> None:
    views = PairViews(TwoViews(parse_policy("crop+flip")), image_size=24)
    batch = {"images": torch.randint(0, 256, (3, 16, 16), dtype=torch.uint8)}
    v1, v2 = views(batch, torch.Generator().manual_seed(0))
    assert v1.shape == v2.shape == (3, 1, 24, 24)
    assert v1.dtype == torch.float32 and float(v1.min()) >= 0 and float(v1.max()) <= 1
    assert not torch.equal(v1, v2)


def test_augmentation_seeds_differ_by_step_and_rank() -> None:
    seeds = {step_seed(0, step, rank) for step in range(50) for rank in range(4)}
    assert len(seeds) == 200
    assert step_seed(0, 7, 1) == step_seed(0, 7, 1)


class BrightestPixels(torch.nn.Module):
    """Features that see the bright square of abnormal images in the test cache."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)
        return torch.stack([flat.topk(10, dim=1).values.mean(1), torch.ones(len(x))], dim=1)


def test_knn_monitor_separates_a_real_signal_and_not_noise(make_cache: MakeCache) -> None:
    cache = make_cache(n=96, size=16)
    train, valid = cache.select(splits=["train"]), cache.select(splits=["val"])
    monitor, note = KNNMonitor.choose(cache, train, valid, max_bank=100, max_query=100, seed=0,
                                      k=5)
    assert monitor is not None and "bank" in note
    spec = {"name": "probe", "image_size": 16}
    seeing = Encoder(BrightestPixels(), 2, torch.nn.Identity(), spec, mean=0.0, std=1.0)
    good = monitor.evaluate(seeing, torch.device("cpu"))
    assert good["knn_accuracy"] > 0.9 and good["knn_auroc"] > 0.9

    class Noise(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.randn(len(x), 8, generator=torch.Generator().manual_seed(len(x)))

    blind = monitor.evaluate(Encoder(Noise(), 8, torch.nn.Identity(), spec),
                             torch.device("cpu"))
    assert blind["knn_auroc"] < 0.8


def test_monitor_is_off_with_a_reason_when_labels_are_missing(make_cache: MakeCache) -> None:
    cache = make_cache(n=16, size=16)
    monitor, note = KNNMonitor.choose(cache, np.arange(8), np.array([], dtype=np.int64),
                                      max_bank=10, max_query=10, seed=0)
    assert monitor is None and "labelled" in note
