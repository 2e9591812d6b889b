"""Prepare throughput: ``prepare_cache`` at 1 and 2 workers vs a plain single-process PIL loop.

Both sides do the same work on the same real knee radiographs (../shared/data/knee-oa):
decode, gray, resize keeping aspect, CLAHE (OpenCV, clip 2, tile 8) on the resized image, pad
to a square, store as one uint8 array on disk. The baseline is the loop one would write by
hand: PIL open/convert/resize/paste per file, cv2 CLAHE, a numpy array saved at the end.
Ours adds what the baseline lacks (a resumable progress marker, skipped-file reporting, an
atomic index) and spreads the files over worker processes.

Rounds interleave the three runs, rotating their order (the shared machine drifts); each run
writes a fresh cache folder, so nothing is reused. Output: images/s per run per round, the
medians, and ours / baseline.

    python bench/prepare.py            # all 3,674 images, 3 rounds
    python bench/prepare.py --quick    # 400 images, 2 rounds
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from xrayssl.data.prepare import prepare_cache
from xrayssl.data.records import Record
from xrayssl.data.sources import load_source

KNEE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "knee-oa"


def pil_loop(paths: list[str], out: Path, size: int) -> np.ndarray:
    """The plain baseline: one process, PIL for decode/gray/resize/pad, cv2 for CLAHE."""
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
    images = np.zeros((len(paths), size, size), dtype=np.uint8)
    for i, path in enumerate(paths):
        with Image.open(path) as pil:
            gray = pil.convert("L")
        scale = size / max(gray.size)
        w, h = max(1, round(gray.width * scale)), max(1, round(gray.height * scale))
        resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
        content = clahe.apply(np.asarray(gray.resize((w, h), resample)))
        top, left = (size - h) // 2, (size - w) // 2
        images[i, top : top + h, left : left + w] = content
    np.save(out / "images.npy", images)
    return images


def timed(run: Callable[[], object], count: int) -> float:
    started = time.perf_counter()
    run()
    return count / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="400 images, 2 rounds")
    parser.add_argument("--data", type=Path, default=KNEE, help="knee-oa folder")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--limit", type=int, default=None, help="use N images, spread out")
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"skipped: {args.data} is absent; this benchmark needs the knee-oa radiographs")
        return 0
    records: list[Record] = load_source(args.data)
    limit = min(len(records), args.limit or (400 if args.quick else len(records)))
    records = records[:: max(1, len(records) // limit)][:limit]  # spread over both classes
    paths = [r.path for r in records]
    rounds = args.rounds or (2 if args.quick else 3)
    print(f"{len(records)} images from {args.data}, size {args.size}, {rounds} rounds")

    results: dict[str, list[float]] = {"PIL loop (1 process)": [], "prepare, 1 worker": [],
                                       "prepare, 2 workers": []}
    with tempfile.TemporaryDirectory(prefix="bench-prepare-") as tmp:
        root = Path(tmp)
        check: dict[str, np.ndarray] = {}

        def baseline(r: int) -> None:
            folder = root / f"pil{r}"
            folder.mkdir()
            check["pil"] = pil_loop(paths, folder, args.size)

        def ours(workers: int, r: int) -> None:
            cache = prepare_cache(records, root / f"w{workers}-{r}", size=args.size,
                                  workers=workers, progress=False)
            check["ours"] = np.asarray(cache.images)

        runs: list[tuple[str, Callable[[int], None]]] = [
            ("PIL loop (1 process)", baseline),
            ("prepare, 1 worker", lambda r: ours(1, r)),
            ("prepare, 2 workers", lambda r: ours(2, r)),
        ]
        for r in range(rounds):
            order = runs[r % 3 :] + runs[: r % 3]
            for name, run in order:
                rate = timed(lambda run=run, r=r: run(r), len(records))  # type: ignore[misc]
                results[name].append(rate)
                print(f"  round {r + 1}: {name:<22} {rate:8.1f} images/s", flush=True)
        # Different resamplers (PIL BOX vs OpenCV INTER_AREA) differ by a few grey levels.
        diff = np.abs(check["pil"].astype(int) - check["ours"].astype(int)).mean()

    base = statistics.median(results["PIL loop (1 process)"])
    print(f"\nmean |ours - PIL| per pixel: {diff:.2f} grey levels (resampler difference)")
    print(f"\n{'run':<22} {'median images/s':>16} {'vs PIL loop':>12}")
    for name, rates in results.items():
        median = statistics.median(rates)
        print(f"{name:<22} {median:16.1f} {median / base:11.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
