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

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback

from xrayssl.augment.spec import PolicyPair
from xrayssl.augment.views import views_of
from xrayssl.config.pretrain import PretrainConfig
from xrayssl.cpu_share import usable_cpus
from xrayssl.data.cache import PreparedCache
from xrayssl.errors import XraySSLError
from xrayssl.models.datamodule import PairDataModule, PairViews
from xrayssl.models.encoders import build_encoder, save_encoder
from xrayssl.models.history import EpochCheckpoint, EpochRecorder, write_history
from xrayssl.models.methods import PairMethod, Schedule, build_method
from xrayssl.models.monitor import KNNMonitor
from xrayssl.models.precision import auto_precision
from xrayssl.models.progress import has_bar, progress_callbacks, quiet_lightning
from xrayssl.models.run_loggers import loggers_for
from xrayssl.runs.folder import RunFolder
from xrayssl.runs.pretrain_record import PretrainRecord

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
    return auto_precision(gpu)


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
    checkpoint_dir = RunFolder(out_dir).checkpoints
    resume_from = newest_checkpoint(checkpoint_dir) if checkpoint_dir.is_dir() else None
    if resume_from is not None and not config.resume:
        raise XraySSLError(
            f"{out_dir} already holds a run (checkpoint {resume_from.name}); pass --resume to "
            "continue it or choose another --out folder"
        )
    indices = select_training(config, cache)
    # The precision this machine runs ("auto" resolved), so the saved config says what ran.
    config = config.model_copy(update={"precision": resolve_precision(config)})
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
    method.compile_modules = config.compile
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
    # One thread per core this process may use (affinity, cgroup quota), not per core of the
    # machine: a container given 2 of 64 cores must not start 64 threads.
    torch.set_num_threads(config.threads if config.threads is not None else usable_cpus())
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
    run_folder = RunFolder(out_dir)
    encoder_path = run_folder.encoder
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
        write_history(run_folder.history, recorder.history)
        PretrainRecord(
            config=config_json, cache=str(cache.root), encoder=encoder_path.name,
            epochs_completed=result.epochs_completed, pairs_per_second=pairs_per_second,
            history=recorder.history, notes=notes, world_size=trainer.world_size,
            torch_threads=threads,
        ).write(run_folder.pretrain_record)
    return result
