"""Read a study folder defensively: whatever is missing or damaged becomes a note, not a crash.

A study folder (``runs/<study>``) holds ``study.yaml`` (the config), one folder per trial with
``config.yaml`` and ``metrics.json`` (plus ``encoder.pt`` and ``probe.json``), optionally
baseline runs in folders of their own with a ``metrics.json``, and ``gradcam/explain.json``
once Grad-CAM has run.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from xrayssl.explain.run import EXPLAIN_FILE
from xrayssl.study.space import PolicyPair

GRADCAM_DIR = "gradcam"
RESULTS_DIR = "results"  # written by `xrayssl study results`
RANKED_CSV = "ranked.csv"
METRICS_FILE = "metrics.json"


@dataclass(frozen=True)
class Estimate:
    """A metric with its confidence interval (NaN where absent)."""

    value: float
    lo: float = math.nan
    hi: float = math.nan

    @classmethod
    def from_block(cls, block: Any) -> Estimate | None:
        if not isinstance(block, dict) or block.get("value") is None:
            return None
        return cls(_float(block.get("value")), _float(block.get("lo")), _float(block.get("hi")))


def _float(value: Any) -> float:
    try:
        return math.nan if value is None else float(value)
    except (TypeError, ValueError):
        return math.nan


@dataclass
class Run:
    """One trial (or baseline) folder, reduced to what the report shows."""

    name: str  # folder path relative to the study folder
    folder: Path
    method: str
    policy: str  # view 1 spec, or the baseline kind
    policy_b: str | None  # view 2 spec for asymmetric (pairwise) trials
    seed: int | None
    baseline: bool
    metrics: dict[str, Estimate]  # at the objective's label fraction, overall
    study_metrics: dict[str, Estimate]  # study-level (MURA-style), when present
    by_fraction: dict[float, Estimate]  # objective metric per label fraction
    by_body_part: dict[str, Estimate]  # objective metric per body part
    config: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def policy_label(self) -> str:
        return PolicyPair(self.policy, self.policy_b).label


@dataclass
class StudyFiles:
    root: Path
    config: dict[str, Any] | None
    config_text: str | None
    runs: list[Run]
    explain: dict[str, Any] | None
    notes: list[str]
    objective_metric: str = "auroc"
    objective_fraction: float = 1.0
    objective_level: str = "image"  # "study": MURA-style study-level metrics rank the runs
    significance: dict[str, dict[str, str]] = field(default_factory=dict)  # folder -> CSV row

    @property
    def gradcam_dir(self) -> Path:
        return self.root / GRADCAM_DIR

    def cache_path(self) -> Path | None:
        """The prepared cache the study used: from its trials' metrics, else its config."""
        for run in self.runs:
            cache = run.data.get("cache")
            if cache and Path(cache).is_dir():
                return Path(cache)
        data = (self.config or {}).get("data") or {}
        for key in ("cache", "cache_dir"):
            if data.get(key) and Path(data[key]).is_dir():
                return Path(data[key])
        default = self.root / "cache"
        return default if default.is_dir() else None


def _read_yaml(path: Path, notes: list[str]) -> tuple[dict[str, Any] | None, str | None]:
    if not path.is_file():
        return None, None
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as err:
        notes.append(f"{path.name} could not be read ({err}); it is left out")
        return None, None
    if not isinstance(data, dict):
        notes.append(f"{path} is not a mapping; it is left out")
        return None, text
    return data, text


def _read_json(path: Path, notes: list[str]) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        notes.append(f"{path} could not be read ({err}); that run is left out")
        return None
    if not isinstance(data, dict):
        notes.append(f"{path} is not a JSON object; that run is left out")
        return None
    return data


def _fraction_block(results: dict[str, Any], fraction: float) -> dict[str, Any] | None:
    for key, block in results.items():
        if isinstance(block, dict) and math.isclose(_float(block.get("fraction", key)), fraction):
            return block
    return None


def _level(block: dict[str, Any] | None, level: str) -> dict[str, Any]:
    try:
        value = block["metrics"]["overall"][level]  # type: ignore[index]
    except (KeyError, TypeError):
        return {}
    return value if isinstance(value, dict) else {}


def _estimates(level_block: dict[str, Any]) -> dict[str, Estimate]:
    out = {}
    for name, block in level_block.items():
        estimate = Estimate.from_block(block)
        if estimate is not None:
            out[name] = estimate
    return out


def read_run(folder: Path, root: Path, metric: str, fraction: float,
             notes: list[str]) -> Run | None:
    metrics = _read_json(folder / METRICS_FILE, notes)
    if metrics is None:
        return None
    config, _ = _read_yaml(folder / "config.yaml", notes)
    config = config or {}
    model = metrics.get("model") if isinstance(metrics.get("model"), dict) else {}
    assert isinstance(model, dict)
    baseline = bool(model.get("baseline"))
    method = str(config.get("method") or model.get("method") or
                 ("baseline" if baseline else "?"))
    policy = config.get("policy", config.get("view1", model.get("policy")))
    if policy is None:
        policy = model.get("kind") if baseline else "?"
    policy_b = config.get("policy_b", config.get("view2", model.get("policy_b")))
    seed = config.get("seed", model.get("seed"))
    results = metrics.get("results") if isinstance(metrics.get("results"), dict) else {}
    assert isinstance(results, dict)
    chosen = _fraction_block(results, fraction)
    if chosen is None and results:
        notes.append(f"{folder.name}: no results at label fraction {fraction:g}; "
                     "its metrics are left blank")
    by_fraction = {}
    for block in results.values():
        if isinstance(block, dict):
            estimate = Estimate.from_block(_level(block, "image").get(metric))
            if estimate is not None:
                by_fraction[_float(block.get("fraction"))] = estimate
    by_body_part = {}
    try:
        parts = chosen["metrics"]["by_body_part"] if chosen else {}
    except (KeyError, TypeError):
        parts = {}
    for part, block in (parts or {}).items():
        try:
            estimate = Estimate.from_block(block["image"][metric])
        except (KeyError, TypeError):
            estimate = None
        if estimate is not None:
            by_body_part[str(part)] = estimate
    data = metrics.get("data")
    return Run(
        name=str(folder.relative_to(root)),
        folder=folder,
        method=method,
        policy=str(policy),
        policy_b=None if policy_b in (None, "", "=") else str(policy_b),
        seed=int(seed) if isinstance(seed, int | float | str) and str(seed).isdigit() else None,
        baseline=baseline,
        metrics=_estimates(_level(chosen, "image")),
        study_metrics=_estimates(_level(chosen, "study")),
        by_fraction=dict(sorted(by_fraction.items())),
        by_body_part=by_body_part,
        config=config,
        data=data if isinstance(data, dict) else {},
    )


def read_study(root: Path) -> StudyFiles:
    """Everything the report needs from ``root``; problems are collected in ``notes``."""
    notes: list[str] = []
    config, config_text = _read_yaml(root / "study.yaml", notes)
    if config is None and config_text is None:
        notes.append("no study.yaml in the study folder: the configuration section is empty")
    objective = (config or {}).get("objective") or {}
    metric = str(objective.get("metric", "auroc"))
    fraction = _float(objective.get("fraction", 1.0))
    level = str(objective.get("level", "image"))
    runs = []
    for folder in run_folders(root):
        run = read_run(folder, root, metric, fraction, notes)
        if run is not None:
            runs.append(run)
    significance = read_ranked_csv(root / RESULTS_DIR / RANKED_CSV, notes)
    explain_path = root / GRADCAM_DIR / EXPLAIN_FILE
    explain = _read_json(explain_path, notes) if explain_path.is_file() else None
    return StudyFiles(root=root, config=config, config_text=config_text, runs=runs,
                      explain=explain, notes=notes, objective_metric=metric,
                      objective_fraction=fraction, objective_level=level,
                      significance=significance)


def read_ranked_csv(path: Path, notes: list[str]) -> dict[str, dict[str, str]]:
    """Rows of ``xrayssl study results``' ranked.csv (paired-bootstrap tests), by run folder."""
    if not path.is_file():
        notes.append("no significance tests yet (results/ranked.csv is missing); run "
                     "`xrayssl study results STUDY` and rebuild the report")
        return {}
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, csv.Error, UnicodeDecodeError) as err:
        notes.append(f"{path} could not be read ({err}); significance tests are left out")
        return {}
    return {row["folder"]: row for row in rows if row.get("folder")}


SKIP_FOLDERS = {GRADCAM_DIR, RESULTS_DIR, "cache", "synth", "checkpoints", "logs", "prepared"}


def run_folders(root: Path, depth: int = 2) -> list[Path]:
    """Folders holding a metrics.json, at most ``depth`` levels down (trials, baselines/x);
    the data, checkpoint and Grad-CAM folders are not searched."""
    found: list[Path] = []
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        if child.name in SKIP_FOLDERS or child.name.startswith("."):
            continue
        if (child / METRICS_FILE).is_file():
            found.append(child)
        elif depth > 1:
            found.extend(run_folders(child, depth - 1))
    return found


