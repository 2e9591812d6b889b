"""Installing xrayssl into an environment that has its own PyTorch keeps that PyTorch.

pyproject.toml declares ranges (``torch>=2.11,<3``); the exact tested set lives in
constraints.txt for make and CI. A venv holding torch 2.11.0 and torchvision 0.26.0 (their
metadata only: no gigabytes) is asked what ``pip install`` would do; neither may be replaced.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def fake_distribution(site: Path, name: str, version: str, requires: str = "") -> None:
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                                   + (f"Requires-Dist: {requires}\n" if requires else ""))
    (info / "INSTALLER").write_text("pip\n")
    (info / "RECORD").write_text("")


@pytest.mark.slow
def test_pip_install_keeps_the_users_torch(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; "
                              "print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    site = Path(purelib)
    fake_distribution(site, "torch", "2.11.0")
    fake_distribution(site, "torchvision", "0.26.0", "torch==2.11.0")
    report = tmp_path / "report.json"
    run = subprocess.run([str(python), "-m", "pip", "install", "--dry-run", "--quiet",
                          "--report", str(report), str(ROOT)],
                         capture_output=True, text=True, timeout=600)
    if run.returncode != 0 and ("Could not find a version" in run.stderr
                                or "NewConnectionError" in run.stderr):
        pytest.skip(f"no package index reachable: {run.stderr.strip()[-200:]}")
    assert run.returncode == 0, run.stderr[-2000:]
    planned = {item["metadata"]["name"].lower(): item["metadata"]["version"]
               for item in json.loads(report.read_text())["install"]}
    assert "xrayssl" in planned
    assert "torch" not in planned and "torchvision" not in planned, planned
