"""A pretraining run's per-epoch history (``log.csv``) and its checkpoint names.

Both count epochs done, from 1: ``epoch=0001.ckpt`` and the ``log.csv`` row with ``epoch`` 1 come
after the first epoch; row 0 is the monitor before any training.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, ModelCheckpoint

from xrayssl.atomic import atomic_write_text
from xrayssl.errors import XraySSLError
from xrayssl.models.methods import PairMethod
from xrayssl.models.monitor import KNNMonitor


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


def write_history(path: Path, history: Sequence[dict[str, float]]) -> None:
    columns: list[str] = []
    for row in history:
        columns += [c for c in row if c not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(path, buffer.getvalue())
