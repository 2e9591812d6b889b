"""`xrayssl pretrain` with its default settings, killed with SIGKILL and resumed, is exact.

Default settings means DataLoader worker processes, no ``--deterministic`` and the kNN monitor
on: the combination in which a resumed session used to replay epoch 0's image order. The only
non-default options make the run small (a built-in tiny encoder, a small batch).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import MakeCache

from xrayssl.models.encoders import load_encoder
from xrayssl.runs.folder import CHECKPOINT_DIR

EPOCHS = 4


def pretrain_command(cache: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "xrayssl", "pretrain", "--data", str(cache),
            "--policy", "crop+flip", "--encoder", "resnet_tiny", "--batch-size", "8",
            "--epochs", str(EPOCHS), "--out", str(out), *extra]


def environment() -> dict[str, str]:
    src = str(Path(__file__).resolve().parents[2] / "src")
    return {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}


def loadable(path: Path) -> bool:
    """The checkpoint is complete (Lightning writes it in place, so it may be half there)."""
    try:
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return False
    return True


def kill_after_first_checkpoint(command: list[str], out: Path, log: Path) -> None:
    first = out / CHECKPOINT_DIR / "epoch=0001.ckpt"
    with log.open("w") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT,
                                   env=environment())
        deadline = time.monotonic() + 300
        while not (first.is_file() and loadable(first)):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no checkpoint after 300 s"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL
    saved = sorted(p.name for p in (out / CHECKPOINT_DIR).glob("*.ckpt"))
    # Killed mid-run: the last epoch's checkpoint and the encoder were never written.
    assert f"epoch={EPOCHS:04d}.ckpt" not in saved, saved
    assert not (out / "encoder.pt").exists()


def check_output_of_a_run_in_a_log_file(stdout: str, stderr: str, out: Path) -> None:
    """stdout is a pipe here, as under nohup or SLURM: plain lines, no bar, no notices."""
    lines = [line for line in stdout.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in lines] == [f"{k}/{EPOCHS}" for k in range(1, EPOCHS + 1)]
    for line in lines:
        assert " loss " in line and " knn_auroc " in line and " pairs/s" in line
        assert " ETA " in line
    assert lines[-1].endswith("ETA 0:00:00")
    everything = stdout + stderr
    for noise in ("GPU available", "TPU available", "litlogger", "LeafSpec", "v_num",
                  "Trainer.fit", "\r", "\x1b["):
        assert noise not in everything, noise
    # Checkpoints and log.csv count finished epochs alike, as integers from 1.
    saved = sorted(p.name for p in (out / CHECKPOINT_DIR).glob("*.ckpt"))
    assert saved == [f"epoch={EPOCHS - 1:04d}.ckpt", f"epoch={EPOCHS:04d}.ckpt"]
    rows = (out / "log.csv").read_text().splitlines()[1:]
    assert [row.split(",")[0] for row in rows] == [str(k) for k in range(EPOCHS + 1)]


def test_sigkilled_run_with_default_settings_resumes_bit_for_bit(
    make_cache: MakeCache, tmp_path: Path
) -> None:
    cache = make_cache(n=160, size=32)
    env = environment()
    whole = subprocess.run(pretrain_command(cache.root, tmp_path / "whole"), env=env,
                           capture_output=True, text=True, timeout=600)
    assert whole.returncode == 0, whole.stdout + whole.stderr
    check_output_of_a_run_in_a_log_file(whole.stdout, whole.stderr, tmp_path / "whole")

    killed = tmp_path / "killed"
    kill_after_first_checkpoint(pretrain_command(cache.root, killed), killed,
                                tmp_path / "killed.log")
    resumed = subprocess.run(pretrain_command(cache.root, killed, "--resume"), env=env,
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr

    a, meta_a = load_encoder(tmp_path / "whole" / "encoder.pt")
    b, meta_b = load_encoder(killed / "encoder.pt")
    different = [name for (name, x), y in
                 zip(a.state_dict().items(), b.state_dict().values(), strict=True)
                 if not torch.equal(x, y)]
    assert different == []
    losses = [row.get("loss") for row in meta_a["history"]]
    assert len(losses) == EPOCHS + 1  # the monitor row before training, then one per epoch
    assert [row.get("loss") for row in meta_b["history"]] == losses


@pytest.mark.slow  # the resume test above already compares two processes bit for bit
def test_two_runs_give_bit_identical_encoders(make_cache: MakeCache, tmp_path: Path) -> None:
    """Repeatable by default on one machine: no seed, flag or thread setting needed."""
    cache = make_cache(n=64, size=32)
    env = environment()
    for name in ("first", "second"):
        command = pretrain_command(cache.root, tmp_path / name)
        command[command.index("--epochs") + 1] = "2"
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
    a, _ = load_encoder(tmp_path / "first" / "encoder.pt")
    b, _ = load_encoder(tmp_path / "second" / "encoder.pt")
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(x, y), name
