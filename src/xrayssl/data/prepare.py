"""Records -> prepared cache: decode, gray, resize with aspect kept, CLAHE, pad, once.

The work is split so that nothing finished is ever lost:

* ``.prepare-state.json`` names the config hash of the run in progress; ``.progress.npy``
  (one status byte per record: 0 to do, 1 done, 2 skipped) and ``.failures.csv`` (index and
  reason of each skipped image) are flushed every couple of seconds, after the image bytes
  themselves are on disk. A killed run started again with the same config resumes there.
* Workers write straight into the shared ``images.npy`` memory map by record index.
* ``index.json`` is written last and atomically; a folder without it is not a cache.
* Running again with the same config and records reuses the finished cache.
"""

from __future__ import annotations

import csv
import hashlib
import io
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

from xrayssl.config.base import validate
from xrayssl.config.data import ClaheConfig, PrepareConfig, SplitConfig
from xrayssl.data.cache import (
    CACHE_VERSION,
    IMAGES_FILE,
    INDEX_FILE,
    MASKS_FILE,
    SKIPPED_FILE,
    PreparedCache,
    atomic_write_json,
    atomic_write_text,
    write_index,
)
from xrayssl.data.checks import drop_duplicates, warn_single_class
from xrayssl.data.io import UnreadableImageError, read_image
from xrayssl.data.records import Record
from xrayssl.data.splits import protocol_splits, split_summary
from xrayssl.errors import XraySSLError

STATE_FILE = ".prepare-state.json"
PROGRESS_FILE = ".progress.npy"
FAILURES_FILE = ".failures.csv"
CHECKPOINT_SECONDS = 2.0
TODO, DONE, SKIPPED = 0, 1, 2

Task = tuple[int, str, str | None]  # (record index, image path, mask path)
Outcome = tuple[int, str | None]  # (record index, skip reason or None)


# ---------------------------------------------------------------- pixels


def fit_inside(img: np.ndarray, size: int, interpolation: int | None = None) -> np.ndarray:
    """Resize (H, W) so the longer side is ``size``, aspect kept -> (h', w'), max = size."""
    h, w = img.shape[:2]
    scale = size / max(h, w)
    new_w = max(1, min(size, round(w * scale)))
    new_h = max(1, min(size, round(h * scale)))
    if (new_h, new_w) == (h, w):
        return img
    if interpolation is None:
        # INTER_AREA averages when shrinking (no aliasing); INTER_LINEAR when enlarging.
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(img, (new_w, new_h), interpolation=interpolation)


def pad_square(img: np.ndarray, size: int, value: int = 0) -> np.ndarray:
    """Centre (h', w') on a (size, size) canvas filled with ``value``."""
    h, w = img.shape[:2]
    if (h, w) == (size, size):
        return np.ascontiguousarray(img)
    top, left = (size - h) // 2, (size - w) // 2
    return cv2.copyMakeBorder(
        img, top, size - h - top, left, size - w - left, cv2.BORDER_CONSTANT, value=value
    )


def geometry(img_u8: np.ndarray, size: int, pad_value: int = 0) -> np.ndarray:
    """(H, W) uint8 -> (size, size) uint8: resize keeping aspect, then pad. No CLAHE."""
    return pad_square(fit_inside(img_u8, size), size, pad_value)


def make_clahe(config: ClaheConfig) -> Any:
    if not config.enabled:
        return None
    return cv2.createCLAHE(clipLimit=config.clip, tileGridSize=(config.tile, config.tile))


def prepare_pixels(img_u8: np.ndarray, size: int, clahe: Any, pad_value: int = 0) -> np.ndarray:
    """(H, W) uint8 -> (size, size) uint8 as stored in the cache.

    CLAHE runs on the resized image before padding, so the flat padding neither skews the
    tile histograms nor gets lifted off ``pad_value`` by them; the geometry is the same as
    :func:`geometry`.
    """
    content = fit_inside(img_u8, size)
    if clahe is not None:
        content = clahe.apply(np.ascontiguousarray(content))
    return pad_square(content, size, pad_value)


def prepare_mask(mask: np.ndarray, size: int) -> np.ndarray:
    """Any mask -> (size, size) uint8 in {0, 255}; nearest neighbour keeps it binary."""
    binary = np.where(mask > 0, 255, 0).astype(np.uint8)
    return pad_square(fit_inside(binary, size, cv2.INTER_NEAREST), size, 0)


# ---------------------------------------------------------------- workers

_worker: dict[str, Any] = {}


def _init_worker(out: str, config: dict[str, Any], with_masks: bool, threads: int | None) -> None:
    if threads is not None:
        cv2.setNumThreads(threads)  # processes already fill the cores; no nested threads
    cfg = PrepareConfig.model_validate(config)
    _worker["config"] = cfg
    _worker["clahe"] = make_clahe(cfg.clahe)
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

    def summary(self) -> str:
        cache = self.cache
        if self.reused:
            return (
                f"reused the prepared cache at {cache.root} (same config, hash "
                f"{cache.config_hash[:12]}): {len(cache)} images, {len(self.skipped)} skipped\n"
                + split_summary(cache.splits)
            )
        lines = [
            f"prepared {len(cache)} images of {cache.size}x{cache.size} in {cache.root} "
            f"({self.seconds:.1f} s)",
            f"skipped: {len(self.skipped)}"
            + (f" (listed with reasons in {cache.root / SKIPPED_FILE})" if self.skipped else ""),
        ]
        if self.duplicates:
            lines.append(f"duplicate rows removed: {self.duplicates}")
        if self.resumed:
            lines.append(f"resumed: {self.resumed} images were already done by an earlier run")
        lines.append(split_summary(cache.splits))
        return "\n".join(lines)


def config_hash(config: PrepareConfig, records: Sequence[Record]) -> str:
    """Hash of everything that decides the cache's content: pixels config and records."""
    payload = json.dumps(
        {
            "version": CACHE_VERSION,
            "config": config.model_dump(),
            # The source's records: the protocol splits are derived after the pixels and
            # recorded beside them, so changing how they are made never redoes the pixels.
            "records": [
                {k: v for k, v in r.to_dict().items() if k != "source_split"} for r in records
            ],
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _read_skipped(path: Path) -> list[tuple[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return [(row["path"], row["reason"]) for row in csv.DictReader(handle)]


def _skipped_csv(rows: Sequence[tuple[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "reason"])
    writer.writerows(rows)
    return buffer.getvalue()


def _read_failures(path: Path) -> dict[int, str]:
    failures: dict[int, str] = {}
    if path.is_file():
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                if len(row) == 2 and row[0].isdigit():
                    failures[int(row[0])] = row[1]
    return failures


def _save_progress(out: Path, status: np.ndarray) -> None:
    tmp = out / f".{PROGRESS_FILE}.tmp"
    with tmp.open("wb") as handle:
        np.save(handle, status)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, out / PROGRESS_FILE)


def _fsync(path: Path) -> None:
    # The workers' memory-map writes sit in the page cache; fsync on any descriptor of the
    # file pushes them to disk before the progress marker claims them done.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_partial(out: Path) -> None:
    for name in (STATE_FILE, PROGRESS_FILE, FAILURES_FILE, IMAGES_FILE, MASKS_FILE, SKIPPED_FILE):
        (out / name).unlink(missing_ok=True)


def _start_or_resume(
    out: Path, digest: str, n: int, size: int, with_masks: bool
) -> tuple[np.ndarray, dict[int, str]]:
    """Open the partial run for this config, or start a fresh one. -> (status, failures)."""
    state_path = out / STATE_FILE
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
        status = np.load(out / PROGRESS_FILE)
        images = np.load(out / IMAGES_FILE, mmap_mode="r")
        same = (
            state.get("config_hash") == digest
            and status.shape == (n,)
            and images.shape == (n, size, size)
            and (out / MASKS_FILE).is_file() == with_masks
        )
        del images
    except (OSError, ValueError, json.JSONDecodeError):
        same = False
    if same:
        return status.astype(np.uint8), _read_failures(out / FAILURES_FILE)
    _remove_partial(out)
    out.mkdir(parents=True, exist_ok=True)
    shape = (n, size, size)
    for name in (IMAGES_FILE, MASKS_FILE) if with_masks else (IMAGES_FILE,):
        # Creates the full-size file (sparse on most file systems); workers open it r+.
        created = np.lib.format.open_memmap(out / name, mode="w+", dtype=np.uint8, shape=shape)
        del created
    status = np.zeros(n, dtype=np.uint8)
    _save_progress(out, status)
    atomic_write_json(state_path, {"config_hash": digest, "n": n})
    return status, {}


def _compact(path: Path, keep: np.ndarray, chunk: int = 1024) -> None:
    """Rewrite an (N, S, S) array file with only rows ``keep`` (chunked: no full copy in RAM)."""
    source = np.load(path, mmap_mode="r")
    tmp = path.with_name(f".{path.name}.compact")
    target = np.lib.format.open_memmap(
        tmp, mode="w+", dtype=source.dtype, shape=(len(keep), *source.shape[1:])
    )
    for start in range(0, len(keep), chunk):
        target[start : start + chunk] = source[keep[start : start + chunk]]
    target.flush()
    del target, source
    _fsync(tmp)
    os.replace(tmp, path)


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


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
        _fsync(out / IMAGES_FILE)
        if with_masks:
            _fsync(out / MASKS_FILE)
        _save_progress(out, status)

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
    splits: SplitConfig | None = None,
) -> PrepareResult:
    """Prepare ``records`` into a cache at ``out`` and say what happened (see module doc).

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
        return PrepareResult(cache=finished, skipped=_read_skipped(out / SKIPPED_FILE),
                             duplicates=len(dropped), reused=True)
    if (out / INDEX_FILE).is_file():
        if not overwrite:
            raise XraySSLError(
                f"{out} already holds a prepared cache made with another config or other "
                "images; choose another --out or pass --overwrite to replace it"
            )
        (out / INDEX_FILE).unlink()

    with_masks = any(r.mask_path for r in records)
    status, failures = _start_or_resume(out, digest, len(records), config.size, with_masks)
    resumed = int((status == DONE).sum())
    todo = np.flatnonzero(status == TODO)
    tasks: list[Task] = [(int(i), records[i].path, records[i].mask_path) for i in todo]
    workers = max(1, workers if workers is not None else _default_workers())
    if tasks:
        _run(tasks, out, config, with_masks, workers, status, failures, progress)

    keep = np.flatnonzero(status == DONE)
    skipped = [(records[i].path, failures.get(int(i), "not processed")) for i in
               np.flatnonzero(status != DONE)] + duplicates
    atomic_write_text(out / SKIPPED_FILE, _skipped_csv(skipped))
    if len(keep) == 0:
        reasons = sorted({reason for _, reason in skipped})
        raise XraySSLError(
            f"no usable image: all {len(records)} inputs were skipped "
            f"(reasons: {'; '.join(reasons[:5])}); see {out / SKIPPED_FILE}"
        )
    if len(keep) < len(records):
        _compact(out / IMAGES_FILE, keep)
        if with_masks:
            _compact(out / MASKS_FILE, keep)
    kept_records, split_info = protocol_splits([records[i] for i in keep], splits)
    messages = warn_single_class(kept_records)
    write_index(out, kept_records, config.size, config.model_dump(), digest, split_info)
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
                     overwrite=overwrite, splits=splits)
    if progress:
        print(result.summary(), file=sys.stderr)
    return result.cache
