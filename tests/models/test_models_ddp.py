"""DDP on two CPU processes (gloo) follows the same loss curve as one process with both halves.

What makes the two runs comparable, and what the test therefore fixes:
- data: rank r takes every second image of the same seeded permutation, so the union of the
  two per-rank batches is the single process's batch (checked in test_models_data.py);
- negatives: NT-Xent gathers both ranks' embeddings, and DDP averages gradients, so the
  gradient is the full batch's;
- BatchNorm would normalise each half by its own statistics (SyncBatchNorm needs a GPU), so
  the encoder uses GroupNorm and the head no BatchNorm;
- augmentation draws differ per rank by design (seeded by rank), so the views are identity.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MakeCache

WORKER = Path(__file__).with_name("pretrain_ddp_worker.py")


def step_losses(out: Path) -> list[float]:
    with open(out / "logs" / "version_0" / "metrics.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("train/loss_step")]
    return [float(r["train/loss_step"]) for r in rows]


def run(cache_root: Path, out: Path, devices: int, batch: int) -> list[float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(WORKER.parent), str(WORKER.parents[1]), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, str(WORKER), str(cache_root), str(out), str(devices), str(batch)],
        env=env, capture_output=True, text=True, timeout=600, cwd=WORKER.parent,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return step_losses(out)


@pytest.mark.slow
def test_two_cpu_processes_match_one_process_with_the_doubled_batch(
    make_cache: MakeCache, tmp_path: Path
) -> None:
    cache = make_cache(n=48, size=16)
    single = run(cache.root, tmp_path / "one", devices=1, batch=8)
    double = run(cache.root, tmp_path / "two", devices=2, batch=4)
    assert len(single) == len(double) >= 6
    summary = json.loads((tmp_path / "two" / "pretrain.json").read_text())
    assert summary["world_size"] == 2
    assert single[0] != single[-1]  # it trains
    for a, b in zip(single, double, strict=True):
        assert a == pytest.approx(b, rel=1e-4, abs=1e-5)
