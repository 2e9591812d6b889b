"""The thread count follows the cores this process may use; waiting threads sleep."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from xrayssl.cpu_share import cgroup_cpu_limit, quiet_waiting, usable_cpus


def test_cgroup_quota_caps_the_cores(tmp_path: Path) -> None:
    quota = tmp_path / "cpu.max"
    quota.write_text("150000 100000\n")  # 1.5 CPUs
    assert cgroup_cpu_limit(quota) == 1.5
    assert usable_cpus(quota) == 1
    quota.write_text("max 100000\n")
    assert cgroup_cpu_limit(quota) is None
    assert usable_cpus(quota) == len(os.sched_getaffinity(0))
    assert cgroup_cpu_limit(tmp_path / "absent") is None


def test_affinity_limits_the_cores() -> None:
    code = ("import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
            "from xrayssl.cpu_share import usable_cpus; print(usable_cpus())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"


def test_waiting_threads_sleep_unless_the_user_chose() -> None:
    env: dict[str, str] = {}
    quiet_waiting(env)
    assert env == {"OMP_WAIT_POLICY": "PASSIVE"}
    env = {"OMP_WAIT_POLICY": "ACTIVE"}
    quiet_waiting(env)
    assert env["OMP_WAIT_POLICY"] == "ACTIVE"
    code = "import os, xrayssl; print(os.environ['OMP_WAIT_POLICY'])"
    clean = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=clean)
    assert out.stdout.strip() == "PASSIVE"  # set by importing xrayssl, before torch starts
