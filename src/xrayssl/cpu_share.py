"""How many CPU threads this process should use, and waiting that yields the core.

Two runs with one thread per core each, side by side on the same cores, slowed each other
50-fold: PyTorch's OpenMP threads spin while they wait for each other, and a spinning thread
holds the core the other run needs. ``usable_cpus`` counts the cores this process may really
use (its affinity mask and the cgroup's CPU quota, not the machine's count); ``quiet_waiting``
makes idle OpenMP threads sleep instead of spin (``OMP_WAIT_POLICY=PASSIVE``), which must be
set before PyTorch starts its thread pool, so ``xrayssl/__init__.py`` calls it first. A value
the user set already is kept.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2: "<quota> <period>" or "max ..."


def cgroup_cpu_limit(path: Path = CGROUP_CPU_MAX) -> float | None:
    """CPUs the cgroup's quota allows (quota / period); None when there is no quota."""
    try:
        quota, period = path.read_text(encoding="ascii").split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    try:
        return max(float(quota) / float(period), 0.0)
    except (ValueError, ZeroDivisionError):
        return None


def usable_cpus(cgroup_file: Path = CGROUP_CPU_MAX) -> int:
    """The cores this process may run on: its affinity mask, capped by the cgroup quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cores = os.cpu_count() or 1
    limit = cgroup_cpu_limit(cgroup_file)
    if limit is not None:
        cores = min(cores, max(1, math.floor(limit)))
    return max(1, cores)


def quiet_waiting(environ: dict[str, str] | None = None) -> None:
    """Idle OpenMP threads sleep rather than spin (unless the user chose otherwise)."""
    env = os.environ if environ is None else environ
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
