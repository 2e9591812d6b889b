from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from xrayssl.config.study import StudyConfig

MakeConfig = Callable[..., StudyConfig]
FIVE_OPS = ["gaussian_blur", "flip", "rotation", "chessboard", "random_erasing"]


@pytest.fixture
def runs_dir(tmp_path: Path) -> Iterator[Path]:
    """Study folders on tmpfs when there is one: SQLite commits then skip the disk's fsync."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path / "runs"
        return
    with tempfile.TemporaryDirectory(dir=shm, prefix="xrayssl-test-") as folder:
        yield Path(folder)


@pytest.fixture
def make_config(tmp_path: Path, runs_dir: Path) -> MakeConfig:
    """A study config for runner tests: a fake cache path, short heartbeats."""

    def make(**fields: Any) -> StudyConfig:
        data: dict[str, Any] = {
            "name": "study",
            "runs_dir": str(runs_dir),
            "data": {"cache": str(tmp_path / "no-cache-needed")},
            "methods": ["simclr", "byol"],
            "seeds": [0],
            "space": {"kind": "ablation", "ops": FIVE_OPS[:2], "base": "crop"},
            "runner": {"heartbeat_interval": 1, "grace_period": 3},
            "baselines": [],  # the floors have tests of their own
        }
        data.update(fields)
        return StudyConfig.model_validate(data)

    return make
