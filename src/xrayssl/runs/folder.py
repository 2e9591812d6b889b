"""Find the run folders of a study and read each one: its ``config.yaml`` and ``metrics.json``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xrayssl.runs.metrics_file import METRICS_FILE, RunMetrics
from xrayssl.runs.trial_config import CONFIG_FILE, TrialConfig, read_yaml_mapping

PROBE_FILE = "probe.json"
# Folders of a study that hold data or derived files, never runs.
NOT_RUNS = {"gradcam", "results", "cache", "synth", "checkpoints", "logs", "prepared", "rungs"}


@dataclass(frozen=True)
class RunRecord:
    name: str  # folder path relative to the study folder
    folder: Path
    metrics: RunMetrics
    config: TrialConfig | None  # None for a run without config.yaml (a baseline)


def find_runs(root: Path, depth: int = 2) -> list[Path]:
    """Folders holding a metrics.json, at most ``depth`` levels down: trials at depth 1,
    ``baselines/<kind>`` at depth 2. Data, checkpoint and Grad-CAM folders are not searched."""
    found: list[Path] = []
    for child in sorted(p for p in Path(root).iterdir() if p.is_dir()):
        if child.name in NOT_RUNS or child.name.startswith("."):
            continue
        if (child / METRICS_FILE).is_file():
            found.append(child)
        elif depth > 1:
            found.extend(find_runs(child, depth - 1))
    return found


def read_run(folder: Path, root: Path) -> RunRecord:
    """One run folder; an unreadable file raises XraySSLError naming it."""
    config_path = folder / CONFIG_FILE
    config = raw = None
    if config_path.is_file():
        raw = read_yaml_mapping(config_path)
        config = TrialConfig.read(config_path)
    metrics = RunMetrics.read(folder / METRICS_FILE, config=raw)
    return RunRecord(str(folder.relative_to(root)), folder, metrics, config)
