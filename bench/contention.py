"""Two pretraining runs side by side on the same cores: how much of its solo rate each keeps.

A lab server or cluster node is shared: a tool that loses most of its speed next to another
job is slow wherever it really runs. This bench pretrains the same small SimCLR run (a
``resnet_tiny`` at 64 px on a synthetic cache it prepares once) alone and then two at a time,
under two settings, interleaved in rounds (the machine drifts):

- ``ours``: the defaults (one thread per usable core, idle OpenMP threads sleep:
  ``OMP_WAIT_POLICY=PASSIVE`` set by ``import xrayssl``);
- ``spinning``: the same thread count with libgomp's default waiting (threads spin for a
  while before they sleep), as before ``xrayssl.cpu_share``;
- ``short-spin``: libgomp's waiting with a short spin (``GOMP_SPINCOUNT=10000``).

Each run's rate is the pairs/s its ``pretrain.json`` records (training steps only). Printed:
each side-by-side run's rate as a share of the solo rate of the same setting in that round
(median over rounds), and the solo rates' ratio (what passive waiting costs a run alone).

    python bench/contention.py            # 3 rounds, about 10 minutes on 2 cores
    python bench/contention.py --rounds 1 --epochs 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

# "spinning": a value libgomp does not know leaves it at its own default (spin a while, then
# sleep), which is what PyTorch did before ``import xrayssl`` set PASSIVE (setdefault keeps it).
SETTINGS = {"ours": {}, "spinning": {"OMP_WAIT_POLICY": "libgomp-default"},
            "short-spin": {"OMP_WAIT_POLICY": "libgomp-default", "GOMP_SPINCOUNT": "10000"}}


def make_cache(root: Path, size: int) -> Path:
    synth, cache = root / "synth", root / "cache"
    run([sys.executable, "-m", "xrayssl", "synth", "--out", str(synth), "--patients", "120",
         "--size", str(size), "--workers", "1", "--seed", "0"], os.environ.copy())
    run([sys.executable, "-m", "xrayssl", "prepare", str(synth), "--out", str(cache), "--size",
         str(size), "--workers", "1", "--quiet"], os.environ.copy())
    return cache


def run(command: list[str], env: dict[str, str]) -> None:
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def pretrain_command(cache: Path, out: Path, epochs: int) -> list[str]:
    return [sys.executable, "-m", "xrayssl", "pretrain", "--data", str(cache), "--out", str(out),
            "--epochs", str(epochs), "--batch-size", "64", "--no-monitor", "--quiet",
            "--seed", "0"]


def rates(cache: Path, root: Path, setting: str, copies: int, epochs: int) -> list[float]:
    """pairs/s of each of ``copies`` runs started together."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env.update(SETTINGS[setting])
    outs = [Path(tempfile.mkdtemp(dir=root, prefix=f"{setting}-{copies}-")) for _ in range(copies)]
    procs = [subprocess.Popen(pretrain_command(cache, out / "run", epochs), env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for out in outs]
    for proc in procs:
        if proc.wait() != 0:
            raise SystemExit(f"a pretraining run failed ({setting}, {copies} side by side)")
    return [float(json.loads((out / "run" / "pretrain.json").read_text())["pairs_per_second"])
            for out in outs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--settings", default="ours,spinning",
                        help=f"which of {', '.join(SETTINGS)} to run, the first as the reference")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xrayssl-contention-") as folder:
        root = Path(folder)
        cache = make_cache(root, args.size)
        settings = [s.strip() for s in args.settings.split(",")]
        shares: dict[str, list[float]] = {s: [] for s in settings}
        solo: dict[str, list[float]] = {s: [] for s in settings}
        for k in range(args.rounds):
            order = list(settings) if k % 2 == 0 else list(reversed(settings))
            for setting in order:
                alone = rates(cache, root, setting, 1, args.epochs)[0]
                pair = rates(cache, root, setting, 2, args.epochs)
                solo[setting].append(alone)
                shares[setting] += [rate / alone for rate in pair]
                print(f"round {k + 1} {setting}: solo {alone:.0f} pairs/s, side by side "
                      f"{', '.join(f'{r:.0f}' for r in pair)} pairs/s", flush=True)
        print(f"\n{os.cpu_count()} cores; each side-by-side run's rate / its solo rate "
              f"(median over {args.rounds} round(s), 2 runs each):")
        for setting in settings:
            print(f"  {setting:10s} {statistics.median(shares[setting]):.2f} "
                  f"(min {min(shares[setting]):.2f}); solo {statistics.median(solo[setting]):.0f}"
                  " pairs/s")
        for other in settings[1:]:
            ratio = statistics.median(o / s for o, s in zip(solo[settings[0]], solo[other],
                                                            strict=True))
            print(f"solo rate, {settings[0]} / {other}: {ratio:.2f}")


if __name__ == "__main__":
    main()
