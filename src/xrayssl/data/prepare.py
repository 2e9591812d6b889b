"""Records -> prepared cache, as a resumable job: decode, gray, then the pixels, once.

What the pixels become is :mod:`xrayssl.data.pixels`; the state files that let a killed run
resume where it stopped are :mod:`xrayssl.data.prepare_state`. This module runs the job:

* Workers write straight into the shared ``images.npy`` memory map by record index.
* ``index.json`` is written last and atomically; a folder without it is not a cache.
* Running again with the same config and records reuses the finished cache.
"""

from __future__ import annotations

import csv
import hashlib
import json
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from xrayssl.atomic import atomic_write_text
from xrayssl.config.base import validate
from xrayssl.config.data import (
    ClaheConfig,
    PrepareConfig,
    SplitConfig,
    clahe_tiles,
    describe_clahe,
)
from xrayssl.cpu_share import usable_cpus
from xrayssl.data.cache import (
    CACHE_VERSION,
    IMAGES_FILE,
    INDEX_FILE,
    MASKS_FILE,
    SKIPPED_FILE,
    PreparedCache,
    write_index,
)
from xrayssl.data.checks import drop_duplicates, warn_single_class
from xrayssl.data.gray import UnreadableImageError
from xrayssl.data.io import read_image
from xrayssl.data.pixels import make_clahe, prepare_mask, prepare_pixels
from xrayssl.data.prepare_state import (
    DONE,
    FAILURES_FILE,
    PROGRESS_FILE,
    SKIPPED,
    STATE_FILE,
    TODO,
    compact,
    fsync,
    read_skipped,
    save_progress,
    skipped_csv,
    start_or_resume,
)
from xrayssl.data.records import Record
from xrayssl.data.splits import protocol_splits, split_summary
from xrayssl.errors import XraySSLError

CHECKPOINT_SECONDS = 2.0

Task = tuple[int, str, str | None]  # (record index, image path, mask path)
Outcome = tuple[int, str | None]  # (record index, skip reason or None)


# ---------------------------------------------------------------- workers

_worker: dict[str, Any] = {}


def _init_worker(out: str, config: dict[str, Any], with_masks: bool, threads: int | None) -> None:
    if threads is not None:
        cv2.setNumThreads(threads)  # processes already fill the cores; no nested threads
    cfg = PrepareConfig.model_validate(config)
    _worker["config"] = cfg
    _worker["clahe"] = make_clahe(cfg.clahe, cfg.size)
    _worker["images"] = np.load(Path(out) / IMAGES_FILE, mmap_mode="r+")
    _worker["masks"] = np.load(Path(out) / MASKS_FILE, mmap_mode="r+") if with_masks else None


def _process_batch(tasks: list[Task]) -> list[Outcome]:
    cfg: PrepareConfig = _worker["config"]
    images: np.ndarray = _worker["images"]
    masks: np.ndarray | None = _worker["masks"]
    outcomes: list[Outcome] = []
    for index, path, mask_path in tasks:
        try:
            pixels = prepare_pixels(read_image(path), cfg.size, _worker["clahe"], cfg.pad_value)
            mask = None
            if masks is not None:
                if mask_path is None:
                    mask = np.zeros((cfg.size, cfg.size), dtype=np.uint8)
                else:
                    try:
                        mask = prepare_mask(read_image(mask_path), cfg.size)
                    except UnreadableImageError as err:
                        raise UnreadableImageError(path, f"mask {err.reason}") from None
        except UnreadableImageError as err:
            outcomes.append((index, err.reason))
            continue
        except Exception as err:  # a decoder crash on one file must not stop the others
            outcomes.append((index, f"could not be processed ({type(err).__name__}: {err})"))
            continue
        images[index] = pixels
        if masks is not None and mask is not None:
            masks[index] = mask
        outcomes.append((index, None))
    return outcomes


# ---------------------------------------------------------------- run state


@dataclass
class PrepareResult:
    """What a prepare run did; ``cache`` is the finished cache."""

    cache: PreparedCache
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    duplicates: int = 0
    reused: bool = False
    resumed: int = 0  # images finished by an earlier, interrupted run
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def pixels(self) -> str:
        """The CLAHE the cache's images went through, from its recorded config."""
        recorded = dict(self.cache.config.get("clahe") or {})
        recorded.pop("tiles_used", None)
        try:
            clahe = ClaheConfig.model_validate(recorded)
        except ValueError:
            return "CLAHE as recorded in index.json"
        return describe_clahe(clahe, self.cache.size)

    def summary(self) -> str:
        cache = self.cache
        if self.reused:
            return (
                f"reused the prepared cache at {cache.root} (same config, hash "
                f"{cache.config_hash[:12]}): {len(cache)} images, {len(self.skipped)} skipped; "
                f"{self.pixels}\n" + split_summary(cache.splits)
            )
        lines = [
            f"prepared {len(cache)} images of {cache.size}x{cache.size} in {cache.root} "
            f"({self.seconds:.1f} s)",
            f"applied: grayscale, resize keeping aspect, {self.pixels}, padded to a square",
            f"skipped: {len(self.skipped)}"
            + (f" (listed with reasons in {cache.root / SKIPPED_FILE})" if self.skipped else ""),
        ]
        if self.duplicates:
            lines.append(f"duplicate rows removed: {self.duplicates}")
        if self.resumed:
            lines.append(f"resumed: {self.resumed} images were already done by an earlier run")
        lines.append(split_summary(cache.splits))
        return "\n".join(lines)


def cache_config(config: PrepareConfig) -> dict[str, Any]:
    """The config as recorded (and hashed) with the cache, plus the CLAHE grid really used
    where it differs from the asked one (so those caches hash apart from older ones)."""
    recorded = config.model_dump()
    tiles = clahe_tiles(config.clahe, config.size)
    if config.clahe.enabled and tiles != config.clahe.tile:
        recorded["clahe"]["tiles_used"] = tiles
    return recorded


def config_hash(config: PrepareConfig, records: Sequence[Record]) -> str:
    """Hash of everything that decides the cache's content: pixels config and records."""
    payload = json.dumps(
        {
            "version": CACHE_VERSION,
            "config": cache_config(config),
            # The source's records: the protocol splits are derived after the pixels and
            # recorded beside them, so changing how they are made never redoes the pixels.
            "records": [
                {k: v for k, v in r.to_dict().items() if k != "source_split"} for r in records
            ],
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return usable_cpus()


def _pool_context() -> Any:
    # Not "fork": a parent that already ran OpenCV holds its thread pool's locks, and a forked
    # child that touches OpenCV can hang on them. A fork server is a clean, single-threaded
    # parent that has imported this module once, so workers still start fast.
    methods = mp.get_all_start_methods()
    if "forkserver" in methods:
        context = mp.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        return context
    return mp.get_context("spawn")


def _run(
    tasks: list[Task],
    out: Path,
    config: PrepareConfig,
    with_masks: bool,
    workers: int,
    status: np.ndarray,
    failures: dict[int, str],
    progress: bool,
) -> None:
    batch = max(1, min(64, len(tasks) // (workers * 8) or 1))
    batches = [tasks[i : i + batch] for i in range(0, len(tasks), batch)]
    failures_handle = (out / FAILURES_FILE).open("a", newline="", encoding="utf-8")
    writer = csv.writer(failures_handle, lineterminator="\n")
    bar = tqdm(total=len(status), initial=int((status != TODO).sum()), unit="img",
               desc="prepare", disable=not progress, file=sys.stderr)
    last = time.monotonic()

    def checkpoint() -> None:
        failures_handle.flush()
        os.fsync(failures_handle.fileno())
        fsync(out / IMAGES_FILE)
        if with_masks:
            fsync(out / MASKS_FILE)
        save_progress(out, status)

    def record(outcomes: list[Outcome]) -> None:
        nonlocal last
        for index, reason in outcomes:
            status[index] = DONE if reason is None else SKIPPED
            if reason is not None:
                failures[index] = reason
                writer.writerow([index, reason])
        bar.update(len(outcomes))
        if time.monotonic() - last > CHECKPOINT_SECONDS:
            checkpoint()
            last = time.monotonic()

    init_args = (str(out), config.model_dump(), with_masks)
    try:
        if workers == 1 or len(batches) == 1:
            _init_worker(*init_args, None)
            try:
                for tasks_batch in batches:
                    record(_process_batch(tasks_batch))
            finally:
                _worker.clear()
        else:
            context = _pool_context()
            with context.Pool(workers, initializer=_init_worker, initargs=(*init_args, 1)) as pool:
                for outcomes in pool.imap_unordered(_process_batch, batches):
                    record(outcomes)
    finally:
        bar.close()
        checkpoint()
        failures_handle.close()


def _open_finished(out: Path, digest: str) -> PreparedCache | None:
    if not (out / INDEX_FILE).is_file():
        return None
    try:
        cache = PreparedCache.open(out)
    except (XraySSLError, OSError, ValueError, KeyError):
        return None
    return cache if cache.config_hash == digest else None


def prepare(
    records: Sequence[Record],
    out: Path | str,
    config: PrepareConfig | None = None,
    workers: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
    source_skipped: Sequence[tuple[str, str]] = (),
    splits: SplitConfig | None = None,
) -> PrepareResult:
    """Prepare ``records`` into a cache at ``out`` and say what happened (see module doc).

    ``source_skipped``: (path, reason) of entries the loader already could not use (an AI Hub
    JSON without its image, ...); they are listed in ``skipped.csv`` with the rest.
    ``splits``: how train / val / test are made (:func:`protocol_splits`); a finished cache
    whose splits were made otherwise gets them remade, its pixels kept.
    """
    started = time.perf_counter()
    out = Path(out)
    config = config or PrepareConfig()
    splits = splits or SplitConfig()
    records, dropped = drop_duplicates(records)
    if not records:
        raise XraySSLError("no images to prepare: the source gave no records")
    digest = config_hash(config, records)
    duplicates = [(r.path, "duplicate row (same path listed again)") for r in dropped]

    finished = _open_finished(out, digest)
    if finished is not None:
        if finished.splits.get("config") != splits.model_dump():
            split_records, split_info = protocol_splits(finished.records, splits)
            write_index(out, split_records, finished.size, finished.config,
                        finished.config_hash, split_info)
            finished = PreparedCache.open(out)
        if progress:
            print(f"reusing the prepared cache at {out} (same config hash {digest[:12]})",
                  file=sys.stderr)
        return PrepareResult(cache=finished, skipped=read_skipped(out / SKIPPED_FILE),
                             duplicates=len(dropped), reused=True)
    if (out / INDEX_FILE).is_file():
        if not overwrite:
            raise XraySSLError(
                f"{out} already holds a prepared cache made with another config or other "
                "images; choose another --out or pass --overwrite to replace it"
            )
        (out / INDEX_FILE).unlink()

    with_masks = any(r.mask_path for r in records)
    status, failures = start_or_resume(out, digest, len(records), config.size, with_masks)
    resumed = int((status == DONE).sum())
    todo = np.flatnonzero(status == TODO)
    tasks: list[Task] = [(int(i), records[i].path, records[i].mask_path) for i in todo]
    workers = max(1, workers if workers is not None else _default_workers())
    if tasks:
        _run(tasks, out, config, with_masks, workers, status, failures, progress)

    keep = np.flatnonzero(status == DONE)
    skipped = [(records[i].path, failures.get(int(i), "not processed")) for i in
               np.flatnonzero(status != DONE)] + duplicates + list(source_skipped)
    atomic_write_text(out / SKIPPED_FILE, skipped_csv(skipped))
    if len(keep) == 0:
        reasons = sorted({reason for _, reason in skipped})
        raise XraySSLError(
            f"no usable image: all {len(records)} inputs were skipped "
            f"(reasons: {'; '.join(reasons[:5])}); see {out / SKIPPED_FILE}"
        )
    if len(keep) < len(records):
        compact(out / IMAGES_FILE, keep)
        if with_masks:
            compact(out / MASKS_FILE, keep)
    kept_records, split_info = protocol_splits([records[i] for i in keep], splits)
    messages = warn_single_class(kept_records)
    write_index(out, kept_records, config.size, cache_config(config), digest, split_info)
    for name in (STATE_FILE, PROGRESS_FILE, FAILURES_FILE):
        (out / name).unlink(missing_ok=True)
    return PrepareResult(
        cache=PreparedCache.open(out),
        skipped=skipped,
        duplicates=len(dropped),
        resumed=resumed,
        seconds=time.perf_counter() - started,
        warnings=messages,
    )


def prepare_cache(
    records: Sequence[Record],
    out: Path | str,
    size: int = 224,
    clahe: ClaheConfig | dict[str, Any] | None = None,
    workers: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
    source_skipped: Sequence[tuple[str, str]] = (),
    splits: SplitConfig | None = None,
) -> PreparedCache:
    """Prepare ``records`` into ``out`` and return the opened cache.

    ``clahe``: a ClaheConfig, a dict of its fields, or None for the default (clip 2, tile 8).
    """
    if isinstance(clahe, dict):
        clahe = validate(ClaheConfig, clahe, "clahe")
    config = validate(
        PrepareConfig, {"size": size, "clahe": (clahe or ClaheConfig()).model_dump()}, "prepare"
    )
    result = prepare(records, out, config, workers=workers, progress=progress,
                     overwrite=overwrite, source_skipped=source_skipped, splits=splits)
    if progress:
        print(result.summary(), file=sys.stderr)
    return result.cache
