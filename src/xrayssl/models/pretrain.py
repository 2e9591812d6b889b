"""run_pretraining: one self-supervised run from a prepared cache to an exported encoder.

The run folder::

    out_dir/
      checkpoints/epoch=NNNN.ckpt   the two newest (NNNN epochs done; resume reads the newest)
      logs/version_N/metrics.csv    every logged value, one version per session (+ --logger)
      log.csv                       one row per epoch: loss, lr, monitor metrics, pairs/s
      encoder.pt                    the encoder alone (state_dict + spec + meta), see save_encoder
      pretrain.json                 the config and the result summary

A killed run continues with ``config.resume``: Lightning restores weights, optimiser, schedule,
loops and callback states (the history below) from the newest checkpoint; the sampler and the
augmentation generators are functions of (seed, epoch/step, rank), so the continuation draws
exactly what the uninterrupted run would have drawn.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger, Logger, TensorBoardLogger

from xrayssl.atomic import atomic_write_json, atomic_write_text
from xrayssl.augment.spec import PolicyPair
from xrayssl.augment.views import views_of
from xrayssl.config.pretrain import PretrainConfig
from xrayssl.data.cache import PreparedCache
from xrayssl.errors import XraySSLError
from xrayssl.models.datamodule import PairDataModule, PairViews
from xrayssl.models.encoders import build_encoder, save_encoder
from xrayssl.models.methods import PairMethod, Schedule, build_method
from xrayssl.models.monitor import KNNMonitor
from xrayssl.models.progress import has_bar, progress_callbacks, quiet_lightning

CHECKPOINT_DIR = "checkpoints"
ENCODER_FILE = "encoder.pt"
HISTORY_FILE = "log.csv"
SUMMARY_FILE = "pretrain.json"
RUN_FORMAT = "xrayssl.pretrain"


@dataclass
class PretrainResult:
    encoder_path: Path
    history: list[dict[str, float]]  # one dict per epoch, oldest first
    pairs_per_second: float  # training pairs per second of training-step time, this session
    epochs_completed: int
    out_dir: Path
    checkpoint_path: Path | None
    monitor: str  # what the monitor measured, or why it is off
    notes: list[str] = field(default_factory=list)


class EpochRecorder(Callback):
    """Per-epoch history: mean loss, lr, kNN monitor, pairs/s. Saved inside checkpoints."""

    def __init__(self, monitor: KNNMonitor | None, run_signature: dict[str, Any]) -> None:
        self.monitor = monitor
        self.run_signature = run_signature
        self.history: list[dict[str, float]] = []
        self.train_seconds = 0.0  # this session only: throughput is not resumed
        self.train_pairs = 0
        self._loss_sum: torch.Tensor | None = None
        self._batches = 0
        self._epoch_start = 0.0

    @property
    def state_key(self) -> str:
        return "EpochRecorder"

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Epoch 0: the monitor before any training, the baseline the curve rises from.
        if self.history or self.monitor is None or not isinstance(pl_module, PairMethod):
            return
        row: dict[str, float] = {"epoch": 0, "step": 0}
        row.update(self.monitor.evaluate(pl_module.encoder, pl_module.device))
        self.history.append(row)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._loss_sum = None
        self._batches = 0
        self._epoch_start = time.perf_counter()

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        detached = loss.detach().float()
        self._loss_sum = detached if self._loss_sum is None else self._loss_sum + detached
        self._batches += 1

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize(pl_module.device)
        seconds = time.perf_counter() - self._epoch_start
        batch = trainer.train_dataloader.batch_size if trainer.train_dataloader else 0
        pairs = self._batches * int(batch or 0) * trainer.world_size
        self.train_seconds += seconds
        self.train_pairs += pairs
        local = self._loss_sum / max(1, self._batches) if self._loss_sum is not None else None
        mean_loss = float("nan")
        if local is not None:
            mean_loss = float(trainer.strategy.reduce(local, reduce_op="mean"))
        row: dict[str, float] = {
            "epoch": trainer.current_epoch + 1,  # epochs done, as in the checkpoint names
            "step": trainer.global_step,
            "loss": mean_loss,
            "lr": float(trainer.optimizers[0].param_groups[0]["lr"]),
            "train_seconds": seconds,
            "pairs_per_second": pairs / seconds if seconds > 0 else 0.0,
        }
        if self.monitor is not None and isinstance(pl_module, PairMethod):
            started = time.perf_counter()
            for name, value in self.monitor.evaluate(pl_module.encoder, pl_module.device).items():
                row[name] = value
                pl_module.log(f"monitor/{name}", value, sync_dist=True)
            row["monitor_seconds"] = time.perf_counter() - started
        self.history.append(row)

    def state_dict(self) -> dict[str, Any]:
        # Plain numbers and strings only: checkpoints load with weights_only=True.
        return {
            "history": [dict(row) for row in self.history],
            "signature_json": json.dumps(self.run_signature, sort_keys=True),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        stored = json.loads(state_dict.get("signature_json", "{}"))
        if stored != self.run_signature:
            changed = sorted(
                k for k in set(stored) | set(self.run_signature)
                if stored.get(k) != self.run_signature.get(k)
            )
            raise XraySSLError(
                "the checkpoint to resume belongs to a run with different settings "
                f"({', '.join(changed)}); use another --out folder or the same settings"
            )
        self.history = [dict(row) for row in state_dict.get("history", [])]


class EpochCheckpoint(ModelCheckpoint):
    """Checkpoints named by the number of finished epochs: ``epoch=0001.ckpt`` after the first,
    the count ``log.csv`` uses (Lightning's own names count from 0)."""

    def _monitor_candidates(self, trainer: pl.Trainer) -> dict[str, torch.Tensor]:
        candidates = super()._monitor_candidates(trainer)
        candidates["epoch"] = torch.tensor(trainer.current_epoch + 1)
        return candidates


def run_signature(config: PretrainConfig, cache: PreparedCache) -> dict[str, Any]:
    """Settings a resumed run must share with the killed one (others, e.g. devices, may change)."""
    keep = ("method", "encoder", "image_size", "method_options", "policy", "policy_b",
            "multi_view", "splits", "body_parts", "epochs", "batches_per_epoch", "batch_size",
            "optimizer", "lr", "weight_decay", "warmup_epochs", "seed")
    signature = {k: v for k, v in config.model_dump(mode="json").items() if k in keep}
    signature["cache"] = cache.config_hash
    return signature


def newest_checkpoint(folder: Path) -> Path | None:
    """The newest checkpoint that loads as plain tensors.

    A damaged newest file (a kill while saving) is skipped for the one before it, and said so;
    when no file is readable the run stops rather than start over on top of them.
    """
    unreadable: list[str] = []
    for path in sorted(folder.glob("epoch=*.ckpt"), reverse=True):
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # half-written, foreign, or holding pickled objects
            unreadable.append(f"{path.name} ({type(err).__name__})")
            print(f"skipping checkpoint {path}: it cannot be read as plain tensors")
            continue
        if not isinstance(state, dict) or "state_dict" not in state or "loops" not in state:
            raise XraySSLError(f"{path} is not a checkpoint of an xrayssl pretraining run")
        return path
    if unreadable:
        raise XraySSLError(
            f"no checkpoint in {folder} can be read safely: {', '.join(unreadable)}. "
            "Move them away to start a new run there, or use another --out folder."
        )
    return None


def next_epoch_of(checkpoint: Path | None) -> int:
    """The epoch a run resumed from ``checkpoint`` trains first (0 without a checkpoint)."""
    if checkpoint is None:
        return 0
    state = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True)
    # Lightning's count of processed epochs: the number it gives the sampler's set_epoch.
    return int(state["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"])


def select_training(config: PretrainConfig, cache: PreparedCache) -> np.ndarray:
    indices = cache.select(splits=config.splits, body_parts=config.body_parts)
    if len(indices) == 0:
        known_splits = sorted({str(r.split) for r in cache.records})
        raise XraySSLError(
            f"no images in {cache.root} for splits {config.splits} and body parts "
            f"{config.body_parts or 'all'} (the cache has splits {known_splits} and body parts "
            f"{cache.body_parts()})"
        )
    return indices


def build_views(config: PretrainConfig, image_size: int | None) -> PairViews:
    # config.policy / config.policy_b are the run file's fields of the one two-view form.
    return PairViews(views_of(PolicyPair(config.policy, config.policy_b)), image_size=image_size)


def resolve_precision(config: PretrainConfig) -> str:
    if config.precision != "auto":
        return config.precision
    gpu = torch.cuda.is_available() and config.accelerator in ("auto", "gpu", "cuda")
    if not gpu:
        return "32-true"
    return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"


def world_size_of(config: PretrainConfig) -> int:
    devices = config.devices
    if isinstance(devices, int):
        per_node = devices
    elif devices == "auto":
        per_node = max(1, torch.cuda.device_count()) if torch.cuda.is_available() else 1
    else:
        per_node = len([d for d in devices.split(",") if d.strip()]) or 1
    return per_node * config.num_nodes


# --logger NAME -> (the extra that installs it, the modules it needs).
LOGGER_EXTRAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "csv": ("", ()),
    "tensorboard": ("tensorboard", ("tensorboard", "tensorboardX")),
    "mlflow": ("mlflow", ("mlflow",)),
    "wandb": ("wandb", ("wandb",)),
}


def require_logger(kind: str) -> None:
    """A clear error, naming the extra to install, when ``--logger kind`` cannot run."""
    if kind not in LOGGER_EXTRAS:
        raise XraySSLError(f"--logger {kind!r}: choose one of {', '.join(LOGGER_EXTRAS)}")
    extra, modules = LOGGER_EXTRAS[kind]
    if modules and not any(importlib.util.find_spec(m) for m in modules):
        raise XraySSLError(
            f"--logger {kind} needs the {modules[0]} package: pip install 'xrayssl[{extra}]'"
        )


def loggers_for(out_dir: Path, kind: str = "csv") -> list[Logger]:
    """The CSV log always; ``kind`` adds one tracker, writing inside the run folder only.

    Nothing is sent anywhere: TensorBoard event files, an MLflow file store and W&B's offline
    mode all stay under ``out_dir`` (``wandb sync`` uploads a W&B run later, if one wants).
    """
    require_logger(kind)
    # One numbered version per session (start, resume...): a resumed run never overwrites the
    # log of the session before it.
    csv_logger = CSVLogger(save_dir=out_dir, name="logs")
    loggers: list[Logger] = [csv_logger]
    version = f"version_{csv_logger.version}"
    if kind == "tensorboard":
        loggers.append(TensorBoardLogger(save_dir=out_dir, name="logs",
                                         version=csv_logger.version))
    elif kind == "mlflow":
        from pytorch_lightning.loggers import MLFlowLogger

        store = (out_dir / "mlruns").resolve()
        loggers.append(MLFlowLogger(experiment_name="xrayssl", run_name=version,
                                    tracking_uri=store.as_uri()))
    elif kind == "wandb":
        from pytorch_lightning.loggers import WandbLogger

        loggers.append(WandbLogger(save_dir=str(out_dir), offline=True, project="xrayssl",
                                   name=f"{out_dir.name}-{version}"))
    return loggers


def write_history(path: Path, history: Sequence[dict[str, float]]) -> None:
    columns: list[str] = []
    for row in history:
        columns += [c for c in row if c not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(path, buffer.getvalue())


def fit(
    config: PretrainConfig,
    method: PairMethod,
    data: PairDataModule,
    out_dir: Path,
    resume_from: Path | None,
    world: int,
    *,
    callbacks: list[Callback],
    log_every: int,
    bar: bool,
) -> pl.Trainer:
    """Build the Trainer and train (from ``resume_from`` when given)."""
    with quiet_lightning():  # Trainer() prints its notices already
        trainer = pl.Trainer(
            max_epochs=config.epochs,
            limit_train_batches=config.batches_per_epoch,
            accelerator=config.accelerator,
            devices=config.devices,
            num_nodes=config.num_nodes,
            strategy=config.strategy,
            precision=resolve_precision(config),  # type: ignore[arg-type]
            sync_batchnorm=(config.sync_batchnorm and world > 1 and torch.cuda.is_available()
                            and config.accelerator in ("auto", "gpu", "cuda")),
            deterministic=config.deterministic,
            use_distributed_sampler=False,  # PairDataModule shards by rank itself (same batches)
            callbacks=callbacks,
            logger=loggers_for(out_dir, config.logger),
            log_every_n_steps=log_every,
            enable_progress_bar=bar,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            limit_val_batches=0,
            default_root_dir=out_dir,
        )
        trainer.fit(method, datamodule=data, ckpt_path=resume_from, weights_only=True)
    return trainer


def run_pretraining(
    config: PretrainConfig,
    cache: PreparedCache,
    out_dir: Path,
    callbacks: Sequence[Callback] = (),
) -> PretrainResult:
    """Pretrain ``config.method`` on ``cache``; export the encoder to ``out_dir/encoder.pt``."""
    out_dir = Path(out_dir)
    checkpoint_dir = out_dir / CHECKPOINT_DIR
    resume_from = newest_checkpoint(checkpoint_dir) if checkpoint_dir.is_dir() else None
    if resume_from is not None and not config.resume:
        raise XraySSLError(
            f"{out_dir} already holds a run (checkpoint {resume_from.name}); pass --resume to "
            "continue it or choose another --out folder"
        )
    indices = select_training(config, cache)
    image_size = config.image_size or cache.size
    pl.seed_everything(config.seed, workers=True, verbose=False)

    world = world_size_of(config)
    schedule = Schedule(
        lr=config.resolved_lr(config.batch_size * world),
        weight_decay=config.resolved_weight_decay(),
        optimizer=config.optimizer,
        warmup_epochs=min(config.warmup_epochs, config.epochs),
        max_epochs=config.epochs,
        seed=config.seed,
    )
    encoder = build_encoder(config.encoder, image_size=image_size, weights=config.weights)
    views = build_views(config, image_size if image_size != cache.size else None)
    method = build_method(config.method, encoder, views=views, schedule=schedule,
                          options=config.method_options)
    data = PairDataModule(cache, indices, batch_size=config.batch_size, workers=config.workers,
                          seed=config.seed, multi_view=config.multi_view,
                          first_epoch=next_epoch_of(resume_from))

    monitor: KNNMonitor | None = None
    monitor_note = "monitor off (config.monitor is false)"
    if config.monitor:
        query = cache.select(splits=[config.monitor_split], body_parts=config.body_parts)
        monitor, monitor_note = KNNMonitor.choose(
            cache, indices, query, max_bank=config.monitor_max_bank,
            max_query=config.monitor_max_query, seed=config.seed, k=config.monitor_k,
            image_size=image_size if image_size != cache.size else None,
        )
    recorder = EpochRecorder(monitor, run_signature(config, cache))
    checkpoints = EpochCheckpoint(
        dirpath=checkpoint_dir, filename="{epoch:04d}", monitor="epoch", mode="max",
        save_top_k=2, every_n_epochs=1, save_on_train_epoch_end=True,
        enable_version_counter=False,
    )
    progress = progress_callbacks(config.progress, lambda: recorder.history)
    # Lightning warns when an epoch has fewer batches than the logging interval.
    steps_per_epoch = len(indices) // world // config.batch_size
    if config.batches_per_epoch is not None:
        steps_per_epoch = min(steps_per_epoch, config.batches_per_epoch)
    log_every = max(1, min(config.log_every_n_steps, steps_per_epoch))
    threads_before = torch.get_num_threads()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    threads = torch.get_num_threads()
    try:
        trainer = fit(config, method, data, out_dir, resume_from, world,
                      callbacks=[recorder, checkpoints, *progress, *callbacks],
                      log_every=log_every, bar=has_bar(progress))
    finally:
        torch.set_num_threads(threads_before)

    notes = [monitor_note]
    if config.multi_view:
        notes.append(f"multi-view positives for {data.share_with_partner:.0%} of images")
    encoder_path = out_dir / ENCODER_FILE
    pairs_per_second = recorder.train_pairs / max(recorder.train_seconds, 1e-9)
    result = PretrainResult(
        encoder_path=encoder_path,
        history=recorder.history,
        pairs_per_second=pairs_per_second,
        epochs_completed=int(trainer.current_epoch),
        out_dir=out_dir,
        checkpoint_path=newest_checkpoint(checkpoint_dir) if checkpoint_dir.is_dir() else None,
        monitor=monitor_note,
        notes=notes,
    )
    if trainer.is_global_zero:
        config_json = config.model_dump(mode="json")
        save_encoder(method.encoder, encoder_path, {
            "format": RUN_FORMAT, "config": config_json, "cache": str(cache.root),
            "cache_hash": cache.config_hash, "epochs": result.epochs_completed,
            "history": recorder.history,
        })
        write_history(out_dir / HISTORY_FILE, recorder.history)
        atomic_write_json(out_dir / SUMMARY_FILE, {
            "config": config_json, "cache": str(cache.root), "encoder": ENCODER_FILE,
            "epochs_completed": result.epochs_completed, "pairs_per_second": pairs_per_second,
            "history": recorder.history, "notes": notes, "world_size": trainer.world_size,
            "torch_threads": threads,
        })
    return result
