"""Workers and their deaths: who runs a trial, its heartbeat, and reaping dead workers' trials.

A RUNNING trial whose worker died is detected by Optuna's heartbeat (after ``grace_period``
seconds without a beat, any machine) or at once when its worker ran on this machine and that
process is gone. It is marked FAIL, so its key is no longer live and is enqueued again.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import warnings
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, TrialState


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of a process (guards against a reused pid), None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def process_alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    now_started = process_start_time(pid)
    return started is None or now_started is None or now_started == started


def this_worker() -> dict[str, Any]:
    """The identity a worker writes on the trials it claims: host, pid and process start."""
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": process_start_time(os.getpid()),
    }


class Heartbeat:
    """Beat for one trial every ``interval`` seconds on a daemon thread."""

    def __init__(self, storage: RDBStorage, trial_id: int, interval: int) -> None:
        self._storage = storage
        self._trial_id = trial_id
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while True:
            # A failed beat (database briefly locked) is retried on the next tick; a trial
            # only counts as dead after a whole grace period of missed beats.
            with contextlib.suppress(Exception):
                self._storage.record_heartbeat(self._trial_id)
            if self._stop.wait(self._interval):
                return

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def reap_dead_workers(
    study: optuna.study.Study,
    storage: RDBStorage,
    trials: Sequence[FrozenTrial],
    *,
    worker: dict[str, Any],
    grace_period: int,
) -> int:
    """Mark FAIL the RUNNING trials whose worker is gone; returns how many."""
    running = [t for t in trials if t.state == TrialState.RUNNING]
    if not running:
        return 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    still_running = study.get_trials(deepcopy=False, states=[TrialState.RUNNING])
    reaped = len(running) - len(still_running)
    # Claimed, then killed before the first beat: no worker attribute was ever written.
    # Wait twice the grace period (start times come from the worker's own clock).
    unbeaten_before = datetime.now() - timedelta(seconds=2 * grace_period)
    for trial in still_running:
        owner = trial.user_attrs.get("worker")
        if owner is None and (trial.datetime_start or datetime.now()) < unbeaten_before:
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                if storage.set_trial_state_values(trial._trial_id, TrialState.FAIL):
                    reaped += 1
            continue
        if not isinstance(owner, dict) or owner.get("host") != worker["host"]:
            continue
        if owner.get("pid") == os.getpid() or process_alive(
            int(owner["pid"]), owner.get("started")
        ):
            continue
        with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
            storage.set_trial_user_attr(trial._trial_id, "abandoned", True)
            if storage.set_trial_state_values(trial._trial_id, TrialState.FAIL):
                reaped += 1
    return reaped
