"""A fast stand-in trial function and a worker script that runs it in its own process.

The fake trial scores a policy by how many ops it has (plus a method offset), logs every
start and finish to a shared append-only file, and can sleep to give a test time to kill it.
Run as a script: ``python fake_trial.py CONFIG.yaml STORAGE_URL LOG SLEEP [N_TRIALS]``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from xrayssl.atomic import atomic_write_json
from xrayssl.config.study import StudyConfig, load_study_config
from xrayssl.study.runner import StudyRunner, TrialContext, TrialFunction, TrialOutcome


def policy_score(ctx: TrialContext) -> float:
    ops = [p for p in ctx.point.policy.view1.split("+") if p != "identity"]
    return 0.5 + 0.05 * len(ops) + (0.01 if ctx.point.method == "simclr" else 0.0)


def append_line(path: Path, line: str) -> None:
    # O_APPEND writes of one short line are atomic across processes.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def make_fake_trial(log: Path, sleep: float = 0.0) -> TrialFunction:
    def fake_trial(ctx: TrialContext) -> TrialOutcome:
        append_line(log, f"start {ctx.point.key} {os.getpid()}")
        ctx.trial_dir.mkdir(parents=True, exist_ok=True)
        time.sleep(sleep)
        value = policy_score(ctx)
        atomic_write_json(ctx.trial_dir / "fake.json", {"value": value})
        append_line(log, f"done {ctx.point.key} {os.getpid()}")
        return TrialOutcome(value=value, summary={"auroc": value})

    return fake_trial


def write_config(config: StudyConfig, path: Path) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(config.model_dump(mode="json")), encoding="utf-8")
    return path


if __name__ == "__main__":
    config_path, storage_url, log_path, sleep = sys.argv[1:5]
    n_trials = int(sys.argv[5]) if len(sys.argv) > 5 else None
    config = load_study_config(Path(config_path))
    runner = StudyRunner(
        config,
        make_fake_trial(Path(log_path), float(sleep)),
        storage_url=storage_url if storage_url != "-" else None,
        progress=sys.stderr,
    )
    summary = runner.run(n_trials=n_trials)
    print(json.dumps({"complete": summary.complete, "ran_here": summary.ran_here}))
