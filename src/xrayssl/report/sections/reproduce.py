"""Reproduce: the study's exact configuration and the software it ran on."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
import sys
from pathlib import Path

from xrayssl.data.cache import PreparedCache
from xrayssl.findings.model import StudyResults
from xrayssl.report.page import Cell, Section, Table
from xrayssl.runs.folder import STUDY_CONFIG_FILE

PACKAGES = ("xrayssl", "torch", "torchvision", "lightly", "pytorch-lightning", "kornia",
            "opencv-python-headless", "scikit-learn", "grad-cam", "optuna", "numpy", "pydicom",
            "matplotlib", "jinja2", "timm")


def package_versions() -> list[tuple[str, str]]:
    out = []
    for name in PACKAGES:
        try:
            out.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def source_revision() -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(Path(__file__).parent), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def reproduction_section(results: StudyResults, cache: PreparedCache | None = None) -> Section:
    section = Section("reproduce", "Reproduce",
                      "The exact configuration and software versions of this study.")
    if results.config_text is not None:
        section.preformatted.append((STUDY_CONFIG_FILE, results.config_text))
    else:
        section.notes.append("no study.yaml in the study folder")
    versions = package_versions()
    section.tables.append(Table(["package", "version"],
                                [[Cell(n), Cell(v)] for n, v in versions]))
    system = [f"python {sys.version.split()[0]} on {platform.platform()}"]
    revision = source_revision()
    if revision:
        system.append(f"xrayssl source revision {revision}")
    system.append(f"rerun: xrayssl study run <the study YAML>  (study name {results.name})")
    section.preformatted.append(("environment", "\n".join(system)))
    return section
