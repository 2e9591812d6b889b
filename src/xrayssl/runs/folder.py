"""Run and study folders: the one place that names their files.

A run folder (``RunFolder``)::

    config.yaml     TrialConfig      the grid point and the exact settings (runs.trial_config)
    metrics.json    RunMetrics       scores per label fraction and split (runs.metrics_file)
    encoder.pt                       the pretrained encoder (models.encoders save/load)
    probe.json                       the probe fitted on 100% of the labels (evaluate.probe)
    pretrain.json   PretrainRecord   what pretraining did (runs.pretrain_record)
    log.csv                          the per-epoch history (models.history)
    checkpoints/                     Lightning checkpoints, for ``--resume``
    logs/                            Lightning's CSV / TensorBoard loggers

A study folder (``StudyFolder``, ``runs/<study>/``) holds ``study.yaml``, its trials (depth 1),
its floors (``baselines/<kind>``, depth 2), ``results/`` (runs.results_files), ``gradcam/`` (an
explain folder), ``report.html``, ``cache/`` and ``logs/``. An explain folder
(``ExplainFolder``) holds ``explain.json`` (written by ``explain.run``, read by
``ExplainFolder.read_record``), ``comparison.png`` and ``overlays/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xrayssl.errors import XraySSLError
from xrayssl.runs.metrics_file import METRICS_FILE, RunMetrics
from xrayssl.runs.pretrain_record import PretrainRecord
from xrayssl.runs.trial_config import CONFIG_FILE, TrialConfig
from xrayssl.yaml_file import read_yaml_mapping

ENCODER_FILE = "encoder.pt"
PROBE_FILE = "probe.json"
PRETRAIN_FILE = "pretrain.json"
HISTORY_FILE = "log.csv"
CHECKPOINT_DIR = "checkpoints"
LOG_DIR = "logs"

STUDY_CONFIG_FILE = "study.yaml"
RESULTS_DIR = "results"
GRADCAM_DIR = "gradcam"
REPORT_FILE = "report.html"
CACHE_DIR = "cache"
SYNTH_DIR = "synth"
FIGURE_DIR = "figures"  # inside results/

EXPLAIN_FILE = "explain.json"
SHEET_FILE = "comparison.png"
OVERLAY_DIR = "overlays"

# Folders of a study that hold data or derived files, never runs.
NOT_RUNS = {GRADCAM_DIR, RESULTS_DIR, CACHE_DIR, SYNTH_DIR, CHECKPOINT_DIR, LOG_DIR, "prepared",
            "rungs"}


class Entry:
    """A file or folder below a folder object's ``path``, named once: ``encoder =
    Entry(ENCODER_FILE)`` makes ``RunFolder(p).encoder`` the path ``p / "encoder.pt"``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, owner: Any, kind: type | None = None) -> Path:
        return Path(owner.path) / self.name


@dataclass(frozen=True)
class RunFolder:
    """One run's folder; every path below it is named here."""

    path: Path
    config = Entry(CONFIG_FILE)
    metrics = Entry(METRICS_FILE)
    encoder = Entry(ENCODER_FILE)
    probe = Entry(PROBE_FILE)
    pretrain_record = Entry(PRETRAIN_FILE)
    history = Entry(HISTORY_FILE)
    checkpoints = Entry(CHECKPOINT_DIR)
    logs = Entry(LOG_DIR)

    def explainable(self) -> bool:
        """Whether it kept what Grad-CAM needs: the encoder and the probe fitted on it."""
        return self.encoder.is_file() and self.probe.is_file()

    def read_config(self) -> TrialConfig:
        return TrialConfig.read(self.config)

    def write_config(self, config: TrialConfig) -> None:
        config.write(self.config)

    def read_metrics(self, config: dict[str, Any] | None = None) -> RunMetrics:
        return RunMetrics.read(self.metrics, config=config)

    def write_metrics(self, metrics: RunMetrics) -> None:
        metrics.write(self.metrics)

    def read_pretrain_record(self) -> PretrainRecord | None:
        """None when pretraining has not finished here (no record, or a damaged one)."""
        return PretrainRecord.read(self.pretrain_record)

    def pretraining_finished(self, epochs: int) -> bool:
        """A finished pretraining of at least ``epochs`` epochs with its encoder saved."""
        record = self.read_pretrain_record()
        return record is not None and record.epochs_completed >= epochs and self.encoder.is_file()


@dataclass(frozen=True)
class StudyFolder:
    """A study's folder ``runs/<study>/``."""

    path: Path
    config = Entry(STUDY_CONFIG_FILE)
    results = Entry(RESULTS_DIR)
    report = Entry(REPORT_FILE)
    cache = Entry(CACHE_DIR)
    logs = Entry(LOG_DIR)
    synth = Entry(SYNTH_DIR)  # where a study with ``data.synth`` renders its radiographs
    figures = Entry(f"{RESULTS_DIR}/{FIGURE_DIR}")  # the report's figures as files

    @property
    def gradcam(self) -> ExplainFolder:
        return ExplainFolder(self.path / GRADCAM_DIR)


@dataclass(frozen=True)
class ExplainFolder:
    """What ``xrayssl gradcam`` (or a study's Grad-CAM stage) writes."""

    path: Path
    record = Entry(EXPLAIN_FILE)
    sheet = Entry(SHEET_FILE)
    overlays = Entry(OVERLAY_DIR)

    def read_record(self) -> dict[str, Any] | None:
        """``explain.json`` as written by ``explain.run``; None when Grad-CAM has not run here,
        XraySSLError naming the file when it cannot be read."""
        path = self.record
        if not path.is_file():
            return None
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise XraySSLError(f"{path} could not be read ({err})") from None
        if not isinstance(record, dict):
            raise XraySSLError(f"{path} is not a JSON object")
        return record


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
        if RunFolder(child).metrics.is_file():
            found.append(child)
        elif depth > 1:
            found.extend(find_runs(child, depth - 1))
    return found


def read_run(folder: Path, root: Path) -> RunRecord:
    """One run folder; an unreadable file raises XraySSLError naming it."""
    run = RunFolder(folder)
    config = raw = None
    if run.config.is_file():
        raw = read_yaml_mapping(run.config)
        config = run.read_config()
    metrics = run.read_metrics(config=raw)
    return RunRecord(str(folder.relative_to(root)), folder, metrics, config)
