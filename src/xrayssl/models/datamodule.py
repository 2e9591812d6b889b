"""From the uint8 cache to pairs of augmented views on the training device.

DataLoader workers only read rows of the memory-mapped cache and stack them: one fancy-index
read per batch (``__getitems__``), no per-image Python work, no float conversion. The batch
travels to the device as uint8 (4x less than float32), and :class:`PairViews` turns it into
two augmented float views there, inside the training step.

Randomness:
- the order of images comes from ``DistributedSampler`` seeded with the run seed and
  re-shuffled per epoch, so a resumed run sees exactly the batches the killed run would have
  (the sampler starts at the epoch the run resumes with, see ``train_dataloader``);
- augmentation draws from a generator re-seeded every step from ``(seed, global step, rank)``
  (:func:`step_seed`): nothing hidden to save in a checkpoint, and ranks never share draws;
- with ``multi_view`` the partner image of a study is picked from ``(seed, epoch, index)``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from xrayssl.augment.views import TwoViews
from xrayssl.data.cache import IMAGES_FILE, PreparedCache
from xrayssl.errors import XraySSLError

PairBatch = dict[str, torch.Tensor]  # "images": (B,S,S) uint8, "partners": same, "index": (B,)


def step_seed(seed: int, step: int, rank: int) -> int:
    """A well-mixed 63-bit seed for one rank's augmentation at one optimisation step."""
    state = np.random.SeedSequence([seed, step, rank]).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def study_partners(cache: PreparedCache, indices: np.ndarray) -> list[np.ndarray]:
    """For each selected image, the other selected images of its study (may be empty)."""
    by_study: dict[str, list[int]] = defaultdict(list)
    for i in indices.tolist():
        study = cache.records[i].study_id
        if study:
            by_study[study].append(i)
    partners = []
    for i in indices.tolist():
        study = cache.records[i].study_id
        same = by_study.get(study, []) if study else []
        partners.append(np.asarray([j for j in same if j != i], dtype=np.int64))
    return partners


class CachePairs(Dataset[PairBatch]):
    """Rows of the cache; with partners, each row also brings another view of its study.

    Items are ``(epoch, position)`` pairs produced by :class:`EpochSampler`; ``position``
    indexes ``indices``. The memory map is opened lazily so worker processes never receive a
    copy of the images when they start.
    """

    def __init__(
        self,
        root: Path,
        indices: np.ndarray,
        partners: Sequence[np.ndarray] | None = None,
        seed: int = 0,
    ) -> None:
        self.root = root
        self.indices = np.asarray(indices, dtype=np.int64)
        self.partners = partners
        self.seed = seed
        self._images: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def images(self) -> np.ndarray:
        if self._images is None:
            self._images = np.load(self.root / IMAGES_FILE, mmap_mode="r")
        return self._images

    def partner_of(self, epoch: int, position: int) -> int:
        assert self.partners is not None
        options = self.partners[position]
        if len(options) == 0:
            return int(self.indices[position])
        pick = np.random.default_rng([self.seed, epoch, position]).integers(len(options))
        return int(options[pick])

    def __getitems__(self, items: list[tuple[int, int]]) -> PairBatch:
        positions = np.fromiter((p for _, p in items), dtype=np.int64, count=len(items))
        rows = self.indices[positions]
        batch = {
            "images": torch.from_numpy(np.ascontiguousarray(self.images[rows])),
            "index": torch.from_numpy(rows),
        }
        if self.partners is not None:
            other = np.fromiter(
                (self.partner_of(e, p) for e, p in items), dtype=np.int64, count=len(items)
            )
            batch["partners"] = torch.from_numpy(np.ascontiguousarray(self.images[other]))
        return batch

    def __getitem__(self, item: tuple[int, int]) -> PairBatch:
        return self.__getitems__([item])


def keep_batch(batch: Any) -> Any:
    """The dataset already returns a stacked batch; collation has nothing left to do."""
    return batch


class EpochSampler(DistributedSampler[int]):
    """``DistributedSampler`` that tags each position with the epoch it was drawn in."""

    def __iter__(self) -> Iterator[tuple[int, int]]:  # type: ignore[override]
        for position in super().__iter__():
            yield (self.epoch, position)


class PairDataModule(pl.LightningDataModule):
    def __init__(
        self,
        cache: PreparedCache,
        indices: np.ndarray,
        *,
        batch_size: int,
        workers: int = 2,
        seed: int = 0,
        multi_view: bool = False,
        first_epoch: int = 0,
    ) -> None:
        super().__init__()
        self.first_epoch = first_epoch  # 0, or the epoch a resumed run continues with
        self.batch_size = batch_size
        self.workers = workers
        self.seed = seed
        partners = study_partners(cache, indices) if multi_view else None
        self.dataset = CachePairs(cache.root, indices, partners, seed)
        self.share_with_partner = (
            0.0 if partners is None else float(np.mean([len(p) > 0 for p in partners]))
        )

    def train_dataloader(self) -> DataLoader[PairBatch]:
        world = self.trainer.world_size if self.trainer is not None else 1
        rank = self.trainer.global_rank if self.trainer is not None else 0
        per_rank = len(self.dataset) // world
        if per_rank < self.batch_size:
            raise XraySSLError(
                f"batch size {self.batch_size} per device is larger than the "
                f"{per_rank} training images each of the {world} device(s) gets; "
                "lower --batch-size"
            )
        # Each global batch is the same set of images whatever the number of devices: rank r
        # takes every world-th image of the seeded permutation (DistributedSampler).
        sampler = EpochSampler(
            self.dataset,
            num_replicas=world,
            rank=rank,
            shuffle=True,
            seed=self.seed,
            drop_last=True,
        )
        # Lightning builds this loader (and its first iterator) while it estimates the number
        # of steps, before it restores the loops and sets the sampler's epoch; loader workers
        # prefetch from that iterator at once, so a resumed session would replay epoch 0's
        # order. The sampler starts at the epoch the session begins with instead.
        sampler.set_epoch(self.first_epoch)
        on_gpu = self.trainer is not None and self.trainer.strategy.root_device.type == "cuda"
        return DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            drop_last=True,
            num_workers=self.workers,
            collate_fn=keep_batch,
            pin_memory=on_gpu,
            persistent_workers=self.workers > 0,
            prefetch_factor=4 if self.workers > 0 else None,
        )


class PairViews(nn.Module):
    """uint8 batch on the device -> two float views in [0, 1], shaped ``(B, 1, H, W)``."""

    def __init__(self, views: TwoViews, image_size: int | None = None) -> None:
        super().__init__()
        self.views = views
        self.image_size = image_size

    def to_float(self, images: torch.Tensor) -> torch.Tensor:
        x = images.unsqueeze(1).float().div_(255)  # (B, 1, S, S)
        if self.image_size is not None and x.shape[-1] != self.image_size:
            x = F.interpolate(
                x, size=(self.image_size, self.image_size), mode="bilinear", antialias=True
            ).clamp_(0, 1)
        return x

    def forward(
        self, batch: PairBatch, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.to_float(batch["images"])
        if "partners" not in batch:
            return self.views(x, generator)  # type: ignore[no-any-return]
        partner = self.to_float(batch["partners"])
        second = self.views.policy_b if self.views.policy_b is not None else self.views.policy_a
        return self.views.policy_a(x, generator), second(partner, generator)
