"""Two-view augmentation throughput: our batched policy vs torchvision.transforms.v2 per sample.

Both pipelines read 128 px uint8 images from a memory-mapped cache through a DataLoader with
the same number of workers and apply the same six ops twice (two views per image):

- ours: the workers only slice uint8 batches out of the cache; the main process converts them
  to float and runs ``TwoViews(policy)`` on the whole batch, on --device (as in training).
- torchvision: the workers run a ``transforms.v2`` pipeline per sample, twice; the DataLoader
  collates; the main process moves the batch to --device.

Rounds alternate between the two pipelines (the machine drifts). Each round starts a fresh
DataLoader and discards its first batches (worker start-up, prefetch), then times the next
ones; the loader is shut down before the other pipeline's round, so idle workers never
prefetch during the other's timing. Output: images/s per pipeline per round, the median of
each, and their ratio.

On the CPU our main process runs torch with --threads (default 1), as each torchvision
worker does (DataLoader workers run single-threaded): with idle cores scarce, OpenMP threads
that spin-wait for each other cost more than they give.

    python bench/augment.py            # full run (CPU)
    python bench/augment.py --quick    # a quick look
    python bench/augment.py --device cuda
    python bench/augment.py --cache /path/to/prepared/cache
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler
from torchvision.transforms import v2

from xrayssl.augment.spec import parse_policy
from xrayssl.augment.views import TwoViews

POLICY = (
    "crop(scale=0.3-1)+flip+rotation(deg=15)+gaussian_blur(p=0.5,sigma=0.1-2)"
    "+brightness_contrast(p=0.8,brightness=0.2,contrast=0.2)+random_erasing(p=0.5)"
)


def torchvision_pipeline(size: int) -> v2.Compose:
    """The same six ops, with the same parameters, as torchvision v2 per-sample transforms.

    The image turns float first, as ours does (measured on this machine, float is slightly
    faster per sample than running the ops on uint8).
    """
    return v2.Compose([
        v2.ToDtype(torch.float32, scale=True),
        v2.RandomResizedCrop(size, scale=(0.3, 1.0), ratio=(0.75, 4 / 3), antialias=False),
        v2.RandomHorizontalFlip(p=0.5),
        v2.RandomApply([v2.RandomRotation(15)], p=0.5),
        v2.RandomApply([v2.GaussianBlur(13, sigma=(0.1, 2.0))], p=0.5),
        v2.RandomApply([v2.ColorJitter(brightness=0.2, contrast=0.2)], p=0.8),
        v2.RandomErasing(p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0),
    ])


def synthetic_cache(folder: Path, n: int, size: int, seed: int = 0) -> np.ndarray:
    """(n, size, size) uint8 memmap of smooth blobs plus noise, written once to ``folder``."""
    rng = np.random.default_rng(seed)
    images = np.lib.format.open_memmap(folder / "images.npy", mode="w+", dtype=np.uint8,
                                       shape=(n, size, size))
    yy, xx = np.mgrid[:size, :size] / size
    for i in range(n):
        cy, cx = rng.uniform(0.3, 0.7, 2)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / rng.uniform(0.02, 0.1))
        images[i] = np.clip(40 + 150 * blob + rng.normal(0, 10, (size, size)), 0, 255)
    images.flush()
    return np.load(folder / "images.npy", mmap_mode="r")


class CacheBatches(Dataset[torch.Tensor]):
    """Index with a list of indices -> (b, S, S) uint8: one slice of the memmap per batch."""

    def __init__(self, images: np.ndarray) -> None:
        self.images = images

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, indices: list[int]) -> torch.Tensor:  # type: ignore[override]
        return torch.from_numpy(np.ascontiguousarray(self.images[np.sort(indices)]))


class CacheSamples(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Index one image -> two torchvision views, each (1, S, S) float32."""

    def __init__(self, images: np.ndarray, transform: v2.Compose) -> None:
        self.images = images
        self.transform = transform

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = torch.from_numpy(np.array(self.images[index])).unsqueeze(0)  # (1, S, S) uint8
        return self.transform(image), self.transform(image)


def endless_sampler(n: int, seed: int) -> RandomSampler:
    return RandomSampler(range(n), replacement=True, num_samples=10**9,
                         generator=torch.Generator().manual_seed(seed))


def our_loader(images: np.ndarray, batch: int, workers: int, seed: int) -> DataLoader[Any]:
    sampler = BatchSampler(endless_sampler(len(images), seed), batch, drop_last=True)
    return DataLoader(CacheBatches(images), sampler=sampler, batch_size=None,
                      num_workers=workers)


def torchvision_loader(
    images: np.ndarray, batch: int, workers: int, size: int, seed: int
) -> DataLoader[Any]:
    return DataLoader(CacheSamples(images, torchvision_pipeline(size)),
                      sampler=endless_sampler(len(images), seed), batch_size=batch,
                      num_workers=workers, drop_last=True)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_ours(batches: Iterator[torch.Tensor], views: TwoViews, steps: int, device: torch.device,
              generator: torch.Generator) -> float:
    """Images per second: uint8 batch -> float on device -> two views."""
    sync(device)
    start = time.perf_counter()
    count = 0
    for _ in range(steps):
        u8 = next(batches)
        x = u8.to(device, non_blocking=True).float().div_(255).unsqueeze(1)  # (B, 1, S, S)
        views(x, generator)
        count += x.shape[0]
    sync(device)
    return count / (time.perf_counter() - start)


def time_policy_only(views: TwoViews, x: torch.Tensor, steps: int,
                     generator: torch.Generator) -> float:
    """Images per second of the two views alone, on a batch already on the device."""
    views(x, generator)
    sync(x.device)
    start = time.perf_counter()
    for _ in range(steps):
        views(x, generator)
    sync(x.device)
    return steps * x.shape[0] / (time.perf_counter() - start)


def time_torchvision(batches: Iterator[Any], steps: int, device: torch.device) -> float:
    sync(device)
    start = time.perf_counter()
    count = 0
    for _ in range(steps):
        v1, v2_ = next(batches)
        v1, v2_ = v1.to(device, non_blocking=True), v2_.to(device, non_blocking=True)
        count += v1.shape[0]
    sync(device)
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    parser.add_argument("--device", default="cpu", help="where our policy runs: cpu or cuda")
    parser.add_argument("--cache", type=Path, help="a prepared cache to read instead")
    parser.add_argument("--images", type=int, default=2048, help="synthetic cache size")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None, help="batches per round")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads of the main process (CPU runs)")
    args = parser.parse_args()
    rounds = args.rounds or (2 if args.quick else 5)
    steps = args.steps or (2 if args.quick else 6)
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda asked for, but torch sees no CUDA device")

    with tempfile.TemporaryDirectory(prefix="xrayssl-bench-") as tmp:
        if args.cache is not None:
            from xrayssl.data.cache import PreparedCache

            cache = PreparedCache.open(args.cache)
            images, size, source = cache.images, cache.size, str(args.cache)
        else:
            images = synthetic_cache(Path(tmp), args.images, args.size)
            size, source = args.size, f"synthetic {args.images} x {args.size}px uint8 memmap"

        views = TwoViews(parse_policy(POLICY)).to(device)
        generator = torch.Generator().manual_seed(0)
        warm = max(2, args.workers)  # batches discarded per round: start-up and prefetch

        ours: list[float] = []
        tv: list[float] = []
        for r in range(rounds):
            batches = iter(our_loader(images, args.batch, args.workers, seed=r))
            time_ours(batches, views, warm, device, generator)
            ours.append(time_ours(batches, views, steps, device, generator))
            del batches  # shuts its workers down
            batches = iter(torchvision_loader(images, args.batch, args.workers, size, seed=r))
            time_torchvision(batches, warm, device)
            tv.append(time_torchvision(batches, steps, device))
            del batches
            print(f"round {r + 1}/{rounds}: ours {ours[-1]:8.0f} img/s   "
                  f"torchvision {tv[-1]:8.0f} img/s   ratio {ours[-1] / tv[-1]:5.2f}", flush=True)

        resident = torch.from_numpy(np.array(images[: args.batch])).to(device)  # a copy
        resident = resident.float().div_(255).unsqueeze(1)  # (B, 1, S, S)
        policy_only = time_policy_only(views, resident, steps, generator)

    ours_median, tv_median = statistics.median(ours), statistics.median(tv)
    print()
    print(f"policy: {views.spec}")
    print(f"data: {source}; batch {args.batch}; {args.workers} workers; device {device}; "
          f"torch threads {torch.get_num_threads()}; {rounds} rounds x {steps} batches")
    print(f"{'pipeline':<36}{'two-view images/s (median)':>28}")
    print(f"{'ours (batched, ' + str(device) + ')':<36}{ours_median:>28.0f}")
    print(f"{'torchvision v2 (per sample, cpu)':<36}{tv_median:>28.0f}")
    print(f"{'ours, policy only (batch resident)':<36}{policy_only:>28.0f}")
    print(f"{'ratio of the medians':<36}{ours_median / tv_median:>28.2f}")
    ratios = [a / b for a, b in zip(ours, tv, strict=True)]
    print(f"{'ratio per round: median (min-max)':<36}"
          f"{f'{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})':>28}")


if __name__ == "__main__":
    main()
