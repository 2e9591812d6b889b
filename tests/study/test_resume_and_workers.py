"""Kill a worker mid-trial, run several workers at once: every trial completes exactly once.

The workers are real processes running ``fake_trial.py`` (a fast stand-in trial function), on
SQLite and, when ``XRAYSSL_TEST_POSTGRES_URL`` is set, on a PostgreSQL server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from study.conftest import FIVE_OPS, MakeConfig
from study.fake_trial import write_config
from xrayssl.config.study import StudyConfig
from xrayssl.study.grid import KEY, grid_points
from xrayssl.study.storage import default_storage_url, open_storage

WORKER = Path(__file__).with_name("fake_trial.py")
REPO = Path(__file__).resolve().parents[2]


def start_worker(config_path: Path, storage: str, log: Path, sleep: float) -> subprocess.Popen[str]:
    # The checkout's src first: the workers must run the code under test, not an installed copy.
    path = os.pathsep.join([str(REPO / "src"), str(REPO / "tests")])
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(config_path), storage, str(log), str(sleep)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    try:
        _out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _out, err = proc.communicate()
        raise AssertionError(f"worker still running after {timeout} s:\n{err[-3000:]}") from None
    assert proc.returncode == 0, err
    return err


def wait_for(condition: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def log_counts(log: Path, event: str) -> Counter[str]:
    if not log.exists():
        return Counter()
    return Counter(line.split()[1] for line in log.read_text().splitlines()
                   if line.startswith(event + " "))


def complete_counts(config: StudyConfig, storage: str) -> Counter[str]:
    study = optuna.load_study(study_name=config.name, storage=open_storage(storage, config))
    return Counter(t.user_attrs[KEY] for t in study.get_trials(states=[TrialState.COMPLETE]))


def kill_worker_mid_trial(path: Path, storage: str, log: Path) -> None:
    """SIGKILL a worker while its first trial sleeps: that trial stays RUNNING, half done."""
    proc = start_worker(path, storage, log, sleep=30.0)
    wait_for(lambda: sum(log_counts(log, "start").values()) == 1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def test_sigkill_mid_trial_resumes_and_completes_every_trial_once(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    config = make_config(methods=["simclr"])  # 3 policies
    path = write_config(config, tmp_path / "study.yaml")
    storage = default_storage_url(config)
    log = tmp_path / "log"
    kill_worker_mid_trial(path, storage, log)
    killed_key = next(iter(log_counts(log, "start")))
    assert not log_counts(log, "done")

    err = finish(start_worker(path, storage, log, sleep=0.0))
    points = {p.key for p in grid_points(config)}
    assert complete_counts(config, storage) == Counter(points)
    assert log_counts(log, "done") == Counter(points)
    assert log_counts(log, "start")[killed_key] == 2  # the half-done trial ran again
    assert "3 complete" in err

    # A third run finds nothing to do.
    finish(start_worker(path, storage, log, sleep=0.0))
    assert log_counts(log, "done") == Counter(points)


def test_a_dead_remote_worker_is_detected_by_its_stopped_heartbeat(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    config = make_config(methods=["simclr"], space={"kind": "list", "policies": ["crop"]})
    path = write_config(config, tmp_path / "study.yaml")
    storage = default_storage_url(config)
    log = tmp_path / "log"
    kill_worker_mid_trial(path, storage, log)
    # Pretend the dead worker ran on another machine: only the heartbeat can tell it is gone.
    study = optuna.load_study(study_name=config.name, storage=open_storage(storage, config))
    (running,) = study.get_trials(states=[TrialState.RUNNING])
    study._storage.set_trial_user_attr(running._trial_id, "worker",
                                       {"host": "elsewhere", "pid": 1, "started": None})
    started = time.monotonic()
    finish(start_worker(path, storage, log, sleep=0.0))
    assert time.monotonic() - started >= config.runner.grace_period - 1
    assert complete_counts(config, storage) == Counter({running.user_attrs[KEY]: 1})


def run_two_workers(config: StudyConfig, tmp_path: Path, storage: str) -> None:
    path = write_config(config, tmp_path / "study.yaml")
    log = tmp_path / "log"
    workers = [start_worker(path, storage, log, sleep=0.05) for _ in range(2)]
    for worker in workers:
        finish(worker)
    points = Counter(p.key for p in grid_points(config))
    assert log_counts(log, "start") == points  # no trial ran twice, none was skipped
    assert complete_counts(config, storage) == points
    ran_by = {line.split()[2] for line in log.read_text().splitlines()}
    assert len(ran_by) == 2, "both workers should have taken trials"


def test_two_workers_on_one_sqlite_study_never_duplicate_a_trial(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    config = make_config(space={"kind": "subsets", "ops": FIVE_OPS[:3], "base": "crop"})
    run_two_workers(config, tmp_path, default_storage_url(config))


@pytest.mark.postgres
def test_two_workers_on_one_postgres_study_never_duplicate_a_trial(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    url = os.environ.get("XRAYSSL_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("XRAYSSL_TEST_POSTGRES_URL is not set (.ci/run starts a server and sets it)")
    config = make_config(name=f"pg-{uuid.uuid4().hex[:8]}",
                         space={"kind": "subsets", "ops": FIVE_OPS[:3], "base": "crop"})
    run_two_workers(config, tmp_path, url)
