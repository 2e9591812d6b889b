"""How fast is the synthetic MURA generated? Images per second at 256 px, 1 and 2 workers.

End to end through ``generate_dataset``: rendering, PNG encoding of image and mask, the
CSVs. Worker counts run interleaved (1, 2, 1, 2, ...) in one process, so drift in a shared
machine's load hits both alike; the table gives the median of the repeats.

    .venv/bin/python bench/synth.py            # 256 px, 70 patients (~220 images), 3 repeats
    .venv/bin/python bench/synth.py --quick    # 128 px, 14 patients, 1 repeat
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from xrayssl.synth import generate_dataset


def one_run(patients: int, size: int, workers: int, seed: int) -> tuple[int, float]:
    with tempfile.TemporaryDirectory(prefix="synth-bench-") as tmp:
        start = time.perf_counter()
        root = generate_dataset(Path(tmp), patients=patients, size=size, seed=seed,
                                workers=workers, progress=False)
        seconds = time.perf_counter() - start
        lines = (root / "MURA-v1.1" / "train_image_paths.csv").read_text().splitlines()
        lines += (root / "MURA-v1.1" / "valid_image_paths.csv").read_text().splitlines()
    return len(lines), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--patients", type=int, default=70)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.size, args.patients, args.repeats = 128, 14, 1
    counts = [int(w) for w in args.workers.split(",")]
    rates: dict[int, list[float]] = {w: [] for w in counts}
    images = 0
    one_run(7, args.size, 1, seed=99)  # warm-up: imports, caches
    for repeat in range(args.repeats):
        for workers in counts:
            images, seconds = one_run(args.patients, args.size, workers, seed=repeat)
            rates[workers].append(images / seconds)
            print(f"  repeat {repeat + 1} workers {workers}: {images} images in {seconds:.1f} s",
                  flush=True)
    base = statistics.median(rates[counts[0]])
    print(f"\nsynthetic MURA generation, {args.size} px, {images} images per run "
          f"(image + mask PNGs), {os.cpu_count()} CPU cores, median of {args.repeats}")
    print(f"{'workers':>8s} {'images/s':>10s} {'vs ' + str(counts[0]) + ' worker':>14s}")
    for workers in counts:
        rate = statistics.median(rates[workers])
        print(f"{workers:8d} {rate:10.1f} {rate / base:13.2f}x")


if __name__ == "__main__":
    main()
