"""Ctrl-C and SIGTERM stop a command with a word and exit 130, never in silence."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xrayssl.cli.stopping import continue_hint, stop_with_a_word
from xrayssl.errors import Stopped


def test_sigterm_to_a_long_command_says_stopping_and_how_to_continue(tmp_path: Path) -> None:
    out = tmp_path / "synth"
    command = [sys.executable, "-m", "xrayssl", "synth", "--out", str(out), "--patients", "3000",
               "--size", "64", "--workers", "1"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 60
    while not out.exists() and time.monotonic() < deadline:  # started writing films
        time.sleep(0.2)
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "SIGTERM: stopping" in stderr
    assert "stopped; run the same command to continue: xrayssl synth --out" in stderr
    assert "Traceback" not in stderr


def test_lightnings_exit_after_a_signal_becomes_a_stop() -> None:
    with pytest.raises(Stopped, match=r"--resume to continue"), \
            stop_with_a_word(["pretrain", "--out", "run"]):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler raises here
        except KeyboardInterrupt:
            sys.exit(1)  # what Lightning does with it after its teardown


def test_an_exit_without_a_signal_is_left_alone() -> None:
    with pytest.raises(SystemExit), stop_with_a_word(["synth"]):
        sys.exit(3)
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # handlers restored


def test_continue_hints() -> None:
    assert continue_hint(["study", "run", "c.yaml"]) == (
        "run the same command to continue: xrayssl study run c.yaml")
    assert "--resume" not in continue_hint(["pretrain", "--resume", "--out", "r"]).split(": ")[0]
