"""Pipeline efficiency of pretraining: end-to-end pairs/s divided by the bare model step's pairs/s.

For each image size, on the knee-oa train split (../shared/data/knee-oa, prepared once into a
cache with the project's prepare_cache), four measurements with the same batch size:

- ours, bare: our SimCLR (ResNet-18, 1-channel stem) stepping on pre-made tensors already on
  --device (forward of both views, NT-Xent, backward, AdamW step). The ceiling.
- ours, end to end: ``pl.Trainer`` + ``PairDataModule`` (workers slice uint8 batches from the
  cache) + two augmented views made on --device inside the step (xrayssl.augment policy).
- lightly, bare and end to end: lightly's example pipeline (examples/pytorch_lightning/simclr.py):
  PIL images converted to RGB as LightlyDataset does, ``SimCLRTransform`` run per sample in
  DataLoader workers, a LightningModule with a torchvision ResNet-18 backbone. Its head and
  optimiser are set to ours (512-512-128 head, AdamW) so the two pipelines differ only in how
  data reaches the model; the efficiency of each is measured against its own bare step.

Efficiency = end-to-end / bare (1.0 = the data path costs nothing). Rounds alternate between
the measurements (the machine drifts); each end-to-end round starts a fresh Trainer and
DataLoader, discards its first steps (worker start-up) and times the next ones from the end of
one step to the end of the last (so each timed step includes fetching its batch). Reported:
medians of per-round ratios; the order of the four measurements rotates from round to round.

    python bench/pretrain.py --quick
    python bench/pretrain.py --device cuda --sizes 64,128,224 --batch-size 256 --workers 8
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
import torchvision
from lightly.loss import NTXentLoss
from lightly.models.modules import SimCLRProjectionHead
from lightly.transforms import SimCLRTransform
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset

from xrayssl.augment.spec import parse_policy
from xrayssl.augment.views import TwoViews
from xrayssl.data.cache import PreparedCache
from xrayssl.data.prepare import prepare_cache
from xrayssl.data.records import Record
from xrayssl.models.datamodule import PairDataModule, PairViews
from xrayssl.models.encoders import build_encoder
from xrayssl.models.methods import build_method
from xrayssl.models.methods.base import PairMethod, Schedule
from xrayssl.models.precision import auto_precision

KNEE = Path(__file__).resolve().parents[2] / "shared" / "data" / "knee-oa"
POLICY = "crop(scale=0.08-1)+flip+brightness_contrast(p=0.8,brightness=0.4,contrast=0.4)+blur"


# --- data --------------------------------------------------------------------------------------

def knee_records(root: Path) -> list[Record]:
    records = []
    with open(root / "labels.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            records.append(Record(
                path=str(root / row["path"]), label=int(row["label"] == "abnormal"),
                body_part="knee", patient_id=row["patient_id"],
                study_id=row["patient_id"] + row["side"],
                split="valid" if row["split"] == "val" else row["split"], source="knee-oa",
            ))
    return records


def knee_cache_dir(size: int, cache_dir: Path) -> Path:
    return cache_dir / f"knee-oa-{size}"


def knee_cache(size: int, cache_dir: Path) -> PreparedCache:
    out = knee_cache_dir(size, cache_dir)
    if (out / "index.json").is_file():
        return PreparedCache.open(out)
    return prepare_cache(knee_records(KNEE), out, size=size, workers=1, progress=False)


class LightlyStyleDataset(Dataset[tuple[list[torch.Tensor], int]]):
    """What LightlyDataset does with a folder of PNGs: PIL RGB image -> transform, per sample."""

    def __init__(self, root: Path, indices: np.ndarray, transform: SimCLRTransform) -> None:
        self.root = root
        self.indices = indices
        self.transform = transform
        self._images: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> tuple[list[torch.Tensor], int]:
        if self._images is None:
            self._images = np.load(self.root / "images.npy", mmap_mode="r")
        image = Image.fromarray(np.asarray(self._images[self.indices[i]])).convert("RGB")
        return self.transform(image), 0


class LightlyExampleSimCLR(pl.LightningModule):
    """lightly's examples/pytorch_lightning/simclr.py module, head and optimiser set to ours."""

    def __init__(self) -> None:
        super().__init__()
        resnet = torchvision.models.resnet18()
        self.backbone = nn.Sequential(*list(resnet.children())[:-1])
        self.projection_head = SimCLRProjectionHead(512, 512, 128)
        self.criterion = NTXentLoss(temperature=0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projection_head(self.backbone(x).flatten(start_dim=1))

    def pair_loss(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        return self.criterion(self.forward(x0), self.forward(x1))

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        (x0, x1) = batch[0]
        return self.pair_loss(x0, x1)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=1e-3)


# --- measurements ------------------------------------------------------------------------------

def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class StepTimer(pl.Callback):
    def __init__(self, warmup: int, steps: int, device: torch.device) -> None:
        self.warmup, self.steps, self.device = warmup, steps, device
        self.started = self.seconds = 0.0
        self.done = 0  # steps so far, across epochs (batch_idx restarts with each epoch)

    def on_train_batch_end(self, trainer: pl.Trainer, module: pl.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        self.done += 1
        if self.done == self.warmup:
            sync(self.device)
            self.started = time.perf_counter()
        elif self.done == self.warmup + self.steps:
            sync(self.device)
            self.seconds = time.perf_counter() - self.started


def precision_for(device: torch.device, args: argparse.Namespace, ours: bool) -> str:
    """bf16 mixed precision on GPU. On CPU ours runs as ``xrayssl pretrain`` does by default
    (``auto_precision``: bf16 where the CPU has native bf16, else fp32) unless ``--cpu-fp32``;
    lightly's example stays fp32 there, as it ships."""
    if device.type == "cuda":
        return "bf16-mixed"
    if ours and not args.cpu_fp32:
        return auto_precision(on_gpu=False)
    return "32-true"


def end_to_end(module: pl.LightningModule, batch: int, args: argparse.Namespace,
               ours: bool, **fit_data: Any) -> float:
    """Steps through ``pl.Trainer.fit`` with ``fit_data`` (a DataLoader or a DataModule)."""
    device = torch.device(args.device)
    timer = StepTimer(args.warmup, args.steps, device)
    trainer = pl.Trainer(
        max_steps=args.warmup + args.steps, accelerator="gpu" if device.type == "cuda" else "cpu",
        devices=1, precision=precision_for(device, args, ours),  # type: ignore[arg-type]
        logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, use_distributed_sampler=False, callbacks=[timer],
        num_sanity_val_steps=0,
    )
    trainer.fit(module, **fit_data)
    return args.steps * batch / timer.seconds


def bare(module: nn.Module, views: tuple[torch.Tensor, torch.Tensor], batch: int,
         args: argparse.Namespace, ours: bool) -> float:
    """The same step on tensors already on the device: forward both views, loss, backward, AdamW."""
    device = torch.device(args.device)
    module.to(device).train()
    if device.type == "cuda" or ours:
        # What PairMethod does: NHWC on the GPU, and on the CPU for one process (oneDNN's
        # convolutions run NHWC natively); lightly's example keeps NCHW on the CPU.
        module.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=1e-3)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16,
                              enabled=precision_for(device, args, ours) == "bf16-mixed")
    pair_loss = module.pair_loss  # type: ignore[union-attr]
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            sync(device)
            started = time.perf_counter()
        with autocast:
            loss = pair_loss(*views)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    sync(device)
    return args.steps * batch / (time.perf_counter() - started)


def data_path_seconds(cache: PreparedCache, train: np.ndarray, transform: SimCLRTransform,
                      batch: int, args: argparse.Namespace) -> tuple[float, float]:
    """Seconds per batch of each data path alone, measured in this process.

    ours: slice a uint8 batch from the cache, move it to the device, make both views there.
    lightly: PIL RGB image + SimCLRTransform per sample, both views (a worker's work per batch).
    """
    device = torch.device(args.device)
    views = PairViews(TwoViews(parse_policy(POLICY))).to(device)
    dataset = LightlyStyleDataset(cache.root, train, transform)
    rows = np.sort(train[:batch])
    gen = torch.Generator(device=device).manual_seed(0)
    ours, theirs = [], []
    # One untimed pass first: the first call of each op allocates and picks its kernels.
    views({"images": torch.from_numpy(np.ascontiguousarray(cache.images[rows])).to(device)}, gen)
    for i in range(min(batch, 4)):
        dataset[i]
    for _ in range(3):
        sync(device)
        started = time.perf_counter()
        u8 = torch.from_numpy(np.ascontiguousarray(cache.images[rows])).to(device)
        views({"images": u8}, gen)
        sync(device)
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        for i in range(batch):
            dataset[i]
        theirs.append(time.perf_counter() - started)
    return statistics.median(ours), statistics.median(theirs)


def our_method(size: int) -> PairMethod:
    encoder = build_encoder("resnet18", image_size=size)
    views = PairViews(TwoViews(parse_policy(POLICY)))
    return build_method("simclr", encoder, views=views,
                        schedule=Schedule(lr=1e-3, warmup_epochs=0, max_epochs=1))


def measure_size(size: int, args: argparse.Namespace) -> dict[str, list[float]]:
    cache = knee_cache(size, args.cache_dir)
    train = cache.select(splits=["train"])
    batch, device = args.batch_size, torch.device(args.device)
    gen = torch.Generator().manual_seed(0)
    gray = tuple(torch.rand(batch, 1, size, size, generator=gen).to(device) for _ in range(2))
    rgb = tuple(torch.rand(batch, 3, size, size, generator=gen).to(device) for _ in range(2))
    gray = tuple(v.contiguous(memory_format=torch.channels_last) for v in gray)  # as ours runs
    results: dict[str, list[float]] = {k: [] for k in (
        "ours_bare", "ours_e2e", "lightly_bare", "lightly_e2e", "ours_data_s", "lightly_data_s")}
    transform = SimCLRTransform(input_size=size)
    def run_ours_bare(round_index: int) -> None:
        pl.seed_everything(round_index, verbose=False)
        results["ours_bare"].append(bare(our_method(size), gray, batch, args,  # type: ignore[arg-type]
                                         ours=True))

    def run_ours_e2e(round_index: int) -> None:
        pl.seed_everything(round_index, verbose=False)
        data = PairDataModule(cache, train, batch_size=batch, workers=args.workers,
                              seed=round_index)
        results["ours_e2e"].append(end_to_end(our_method(size), batch, args, True,
                                              datamodule=data))

    def run_lightly_bare(round_index: int) -> None:
        pl.seed_everything(round_index, verbose=False)
        results["lightly_bare"].append(bare(LightlyExampleSimCLR(), rgb, batch, args,  # type: ignore[arg-type]
                                            ours=False))

    def run_lightly_e2e(round_index: int) -> None:
        pl.seed_everything(round_index, verbose=False)
        loader = DataLoader(LightlyStyleDataset(cache.root, train, transform), batch_size=batch,
                            shuffle=True, drop_last=True, num_workers=args.workers,
                            pin_memory=device.type == "cuda", persistent_workers=False)
        results["lightly_e2e"].append(end_to_end(LightlyExampleSimCLR(), batch, args, False,
                                                 train_dataloaders=loader))

    runs = [run_ours_bare, run_ours_e2e, run_lightly_bare, run_lightly_e2e]
    for round_index in range(args.rounds):
        ours_data, lightly_data = data_path_seconds(cache, train, transform, batch, args)
        results["ours_data_s"].append(ours_data)
        results["lightly_data_s"].append(lightly_data)
        # The order rotates from round to round, so no measurement always runs first (after
        # the data-path timing) or always right after another pipeline's workers shut down.
        for k in range(len(runs)):
            runs[(k + round_index) % len(runs)](round_index)
        print(f"  {size}px round {round_index + 1}: " + "  ".join(
            f"{k}={v[-1]:.3g}" for k, v in results.items()), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="2 rounds of 5 timed steps")
    parser.add_argument("--cpu-fp32", action="store_true",
                        help="our pipeline in fp32 on the CPU (default: the precision "
                             "`xrayssl pretrain` picks, bf16 on CPUs with native bf16); "
                             "lightly's stays fp32")
    parser.add_argument("--sizes", default="64,128")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=8, help="timed steps per round")
    parser.add_argument("--warmup", type=int, default=4, help="untimed steps per round")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="where the knee-oa caches are kept (default: a temporary folder)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    # Caches already in --cache-dir (carried to a machine without the PNGs) need no source.
    carried = args.cache_dir is not None and all(
        (knee_cache_dir(size, args.cache_dir) / "index.json").is_file() for size in sizes)
    if not carried and not (KNEE / "labels.csv").is_file():
        print(f"skipped: {KNEE} is absent; this benchmark needs the knee-oa images (or their "
              "caches in --cache-dir)")
        return
    if args.quick:
        args.rounds, args.steps, args.warmup = 2, 5, 3
    if args.threads:
        torch.set_num_threads(args.threads)
    temporary = None
    if args.cache_dir is None:
        temporary = tempfile.TemporaryDirectory(prefix="xrayssl-bench-")
        args.cache_dir = Path(temporary.name)
    print(f"device={args.device} batch={args.batch_size} workers={args.workers} "
          f"ours={precision_for(torch.device('cpu'), args, True)} on CPU "
          f"threads={torch.get_num_threads()} rounds={args.rounds} steps={args.steps}")
    table = []
    for size in sizes:
        r = measure_size(size, args)
        med = {k: statistics.median(v) for k, v in r.items()}
        table.append((size, med, [e / b for e, b in zip(r["ours_e2e"], r["ours_bare"],
                                                       strict=True)],
                      [e / b for e, b in zip(r["lightly_e2e"], r["lightly_bare"], strict=True)],
                      [o / t for o, t in zip(r["ours_e2e"], r["lightly_e2e"], strict=True)]))
    print("\ndata path alone, seconds per batch (median): ours = cache slice + both views on "
          "the device, in the training process; lightly = PIL + SimCLRTransform per sample, "
          "in a worker")
    for size, med, _, _, _ in table:
        step = args.batch_size / med["ours_bare"]
        share = med["ours_data_s"] / step
        print(f"  {size}px: ours {med['ours_data_s'] * 1000:.1f} ms ({share:.1%} of a bare step), "
              f"lightly {med['lightly_data_s'] * 1000:.1f} ms per worker")
    print("\npairs/s (median over rounds); efficiency = end-to-end / bare step and ours/lightly: "
          "medians of the per-round ratios")
    print(f"{'size':>5} {'ours bare':>10} {'ours e2e':>9} {'ours eff':>9} "
          f"{'lightly bare':>13} {'lightly e2e':>12} {'lightly eff':>12} {'e2e ours/lightly':>17}")
    for size, med, ours_eff, lightly_eff, versus in table:
        print(f"{size:>5} {med['ours_bare']:>10.1f} {med['ours_e2e']:>9.1f} "
              f"{statistics.median(ours_eff):>9.2f} {med['lightly_bare']:>13.1f} "
              f"{med['lightly_e2e']:>12.1f} {statistics.median(lightly_eff):>12.2f} "
              f"{statistics.median(versus):>17.2f}")
    print("\nper round: ours efficiency / lightly efficiency / ours e2e over lightly e2e")
    for size, _, ours_eff, lightly_eff, versus in table:
        print(f"  {size}px: " + "  ".join(f"{o:.2f}/{t:.2f}/{v:.2f}" for o, t, v in
                                          zip(ours_eff, lightly_eff, versus, strict=True)))
    if temporary is not None:
        temporary.cleanup()


if __name__ == "__main__":
    main()
