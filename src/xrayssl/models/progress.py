"""What a pretraining run prints: a bar on a terminal, one line per epoch in a log file.

A run under nohup or SLURM writes stdout to a file, where a live bar shows nothing until the
end; there :class:`EpochLines` prints one plain line per epoch instead. Lightning's own
start-up notices (accelerator availability, the logger advert, a deprecation warning of its
pytree helper) repeat on every run and every study trial, so :func:`quiet_lightning` keeps
them out for the duration of a run, and only them.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, TextIO

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback, ProgressBar, RichProgressBar

# Lightning's info messages (GPU/TPU availability, the litlogger tip, "Trainer.fit stopped").
LIGHTNING_INFO_LOGGERS = ("pytorch_lightning.utilities.rank_zero",
                          "lightning_fabric.utilities.rank_zero")
# Warnings that say nothing about this run: a deprecation inside Lightning itself, the
# worker-count hint (our loader workers only slice the cache; the step does the work), and the
# non-empty checkpoint folder of a resumed run (a new run there is refused before training).
NOISE_WARNINGS = (r".*LeafSpec.*", r".*does not have many workers.*",
                  r".*Checkpoint directory .* exists and is not empty.*")


@contextmanager
def quiet_lightning() -> Iterator[None]:
    """Hide Lightning's per-run notices; every other warning and error still shows."""
    loggers = [logging.getLogger(name) for name in LIGHTNING_INFO_LOGGERS]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        for pattern in NOISE_WARNINGS:
            warnings.filterwarnings("ignore", message=pattern)
        for logger in loggers:
            logger.setLevel(logging.WARNING)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


class EpochBar(RichProgressBar):
    """Lightning's rich bar, counting epochs from 1 to N (its own shows 0 to N-1), no v_num."""

    def _get_train_description(self, current_epoch: int) -> str:
        total = self.trainer.max_epochs
        return f"Epoch {current_epoch + 1}" + (f"/{total}" if total is not None else "")

    def get_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Any]:
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)  # the logger's version number is not a training metric
        return items


def format_eta(seconds: float) -> str:
    return str(timedelta(seconds=round(max(0.0, seconds))))


def epoch_line(row: dict[str, float], total_epochs: int, eta_seconds: float | None) -> str:
    """``epoch 2/10  loss 4.1985  knn_auroc 0.612  85.3 pairs/s  ETA 0:06:12``."""
    loss = row.get("loss", float("nan"))
    parts = [f"epoch {int(row['epoch'])}/{total_epochs}", f"loss {loss:.4f}"]
    for name in ("knn_auroc", "knn_accuracy"):
        if name in row:
            parts.append(f"{name} {row[name]:.3f}")
            break
    parts.append(f"{row.get('pairs_per_second', 0.0):.1f} pairs/s")
    if eta_seconds is not None:
        parts.append(f"ETA {format_eta(eta_seconds)}")
    return "  ".join(parts)


class EpochLines(Callback):
    """One plain line per epoch for output that is not a terminal (a log file, a pipe).

    ``history`` is the epoch recorder's list of rows; the line is printed after the recorder
    has added this epoch's row (this callback must come after it). The ETA is the mean wall
    time of this session's epochs, monitor included, times the epochs left.
    """

    def __init__(self, history: Callable[[], list[dict[str, float]]],
                 stream: TextIO | None = None) -> None:
        self.history = history
        self.stream = stream
        self._session_start = 0.0
        self._session_epochs = 0

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._session_start = time.perf_counter()
        self._session_epochs = 0

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        rows = self.history()
        if not trainer.is_global_zero or not rows:
            return
        self._session_epochs += 1
        total = int(trainer.max_epochs or 0)
        done = trainer.current_epoch + 1
        per_epoch = (time.perf_counter() - self._session_start) / self._session_epochs
        eta = per_epoch * (total - done) if total else None
        stream = self.stream or sys.stdout
        print(epoch_line(rows[-1], total, eta), file=stream, flush=True)


def progress_callbacks(
    enabled: bool, history: Callable[[], list[dict[str, float]]], stream: TextIO | None = None
) -> list[Callback]:
    """The bar on a terminal, epoch lines otherwise, nothing when progress is off."""
    if not enabled:
        return []
    out = stream or sys.stdout
    if out.isatty():
        return [EpochBar()]
    return [EpochLines(history, out)]


def has_bar(callbacks: list[Callback]) -> bool:
    return any(isinstance(c, ProgressBar) for c in callbacks)
