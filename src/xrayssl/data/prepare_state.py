"""The on-disk state that makes ``prepare`` resumable: nothing finished is ever lost.

* ``.prepare-state.json`` names the config hash of the run in progress; ``.progress.npy``
  (one status byte per record: 0 to do, 1 done, 2 skipped) and ``.failures.csv`` (index and
  reason of each skipped image) are flushed every couple of seconds, after the image bytes
  themselves are on disk. A killed run started again with the same config resumes there.
* Skipped images end in ``skipped.csv``; the image arrays are compacted to the kept rows.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from xrayssl.atomic import atomic_write_json
from xrayssl.data.cache import IMAGES_FILE, MASKS_FILE, SKIPPED_FILE

STATE_FILE = ".prepare-state.json"
PROGRESS_FILE = ".progress.npy"
FAILURES_FILE = ".failures.csv"
TODO, DONE, SKIPPED = 0, 1, 2


def read_skipped(path: Path) -> list[tuple[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return [(row["path"], row["reason"]) for row in csv.DictReader(handle)]


def skipped_csv(rows: Sequence[tuple[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "reason"])
    writer.writerows(rows)
    return buffer.getvalue()


def read_failures(path: Path) -> dict[int, str]:
    failures: dict[int, str] = {}
    if path.is_file():
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                if len(row) == 2 and row[0].isdigit():
                    failures[int(row[0])] = row[1]
    return failures


def save_progress(out: Path, status: np.ndarray) -> None:
    tmp = out / f".{PROGRESS_FILE}.tmp"
    with tmp.open("wb") as handle:
        np.save(handle, status)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, out / PROGRESS_FILE)


def fsync(path: Path) -> None:
    # The workers' memory-map writes sit in the page cache; fsync on any descriptor of the
    # file pushes them to disk before the progress marker claims them done.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_partial(out: Path) -> None:
    for name in (STATE_FILE, PROGRESS_FILE, FAILURES_FILE, IMAGES_FILE, MASKS_FILE, SKIPPED_FILE):
        (out / name).unlink(missing_ok=True)


def start_or_resume(
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
        return status.astype(np.uint8), read_failures(out / FAILURES_FILE)
    remove_partial(out)
    out.mkdir(parents=True, exist_ok=True)
    shape = (n, size, size)
    for name in (IMAGES_FILE, MASKS_FILE) if with_masks else (IMAGES_FILE,):
        # Creates the full-size file (sparse on most file systems); workers open it r+.
        created = np.lib.format.open_memmap(out / name, mode="w+", dtype=np.uint8, shape=shape)
        del created
    status = np.zeros(n, dtype=np.uint8)
    save_progress(out, status)
    atomic_write_json(state_path, {"config_hash": digest, "n": n})
    return status, {}


def compact(path: Path, keep: np.ndarray, chunk: int = 1024) -> None:
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
    fsync(tmp)
    os.replace(tmp, path)
