"""``collect(study_dir)``: a finished study's findings, always rebuilt from its run folders
(never from the Optuna database).

It reads every run folder (trials at depth 1, ``baselines/<kind>`` at depth 2) through
``xrayssl.runs`` and derives, once, everything a reader of the study wants into one typed
``StudyResults`` (:mod:`.model`): the runs, paired tests, per-op effects, the pairwise grid,
label efficiency, the answer (the policy selected per method and body part over its seeds),
the policies ranked over their seeds, and the Grad-CAM localization summary. Both
``xrayssl study results`` (tables in ``runs/<study>/results/``, see ``results_tables``) and the
HTML report render that object; neither derives anything of its own.

Every number of the ranking is read on val, the split that selects (``SELECT``); the test
split is kept for the selected policies and the floors. Significance: a paired cluster
bootstrap (patients resampled, both trials' predictions on the same val images) of the
difference, with Holm's correction over the comparisons of a method (``comparisons``).
The reference of a method is its trial with the base policy alone (the
crop-only policy of an ablation or subsets study) or, failing that, ``identity``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from xrayssl.config.base import validate
from xrayssl.config.study import ObjectiveSettings, ReportSettings
from xrayssl.errors import XraySSLError
from xrayssl.findings.answer import answer
from xrayssl.findings.comparisons import compare
from xrayssl.findings.effects import op_effects, pairwise_grid
from xrayssl.findings.gradcam import read_gradcam
from xrayssl.findings.model import StudyResults
from xrayssl.findings.policy_ranking import policy_rankings
from xrayssl.findings.results_tables import results_files
from xrayssl.findings.run_result import SELECT, RunResult, run_result, selection_split
from xrayssl.findings.rung_results import last_rungs, study_rung_tables
from xrayssl.runs.folder import STUDY_CONFIG_FILE, find_runs, read_run
from xrayssl.yaml_file import read_yaml_mapping

__all__ = ["collect", "write_results"]


def read_study_config(study_dir: Path, notes: list[str]) -> tuple[dict[str, Any] | None,
                                                                   str | None]:
    """study.yaml as a mapping and as text; a damaged one becomes a note."""
    path = study_dir / STUDY_CONFIG_FILE
    if not path.is_file():
        notes.append(f"no {STUDY_CONFIG_FILE} in the study folder: the configuration is unknown")
        return None, None
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        return read_yaml_mapping(path), text
    except XraySSLError as err:
        notes.append(f"{err}; it is left out")
        return None, text


def collect(study_dir: Path, n_boot: int = 1000, seed: int = 0) -> StudyResults:
    """Read every run folder of ``study_dir`` and derive the study's results from them.

    A run that cannot be read, or has no result at the objective's fraction, becomes a note."""
    study_dir = Path(study_dir)
    if not study_dir.is_dir():
        raise XraySSLError(f"study folder not found: {study_dir}")
    notes: list[str] = []
    config, config_text = read_study_config(study_dir, notes)
    settings = config or {}
    where = str(study_dir / STUDY_CONFIG_FILE)
    objective = validate(ObjectiveSettings, settings.get("objective") or {}, f"{where} objective")
    report = validate(ReportSettings, settings.get("report") or {}, f"{where} report")
    space = settings.get("space") or {}
    trials: list[RunResult] = []
    floors: list[RunResult] = []
    legacy: list[str] = []  # runs made before the val split: only test to rank them on
    labels = clusters = None
    for folder in find_runs(study_dir):
        name = str(folder.relative_to(study_dir))
        try:
            record = read_run(folder, study_dir)
        except XraySSLError as err:
            notes.append(f"{name}: {err}; that run is left out")
            continue
        result = run_result(record, objective)
        if result is not None and selection_split(record.metrics) != SELECT:
            legacy.append(name)
        if result is None:
            notes.append(f"{name}: no {SELECT} results at label fraction "
                         f"{objective.fraction:g}; left out")
        elif result.kind == "probe":
            notes.append(f"{name}: a lone `xrayssl probe` output, not a trial; left out")
        elif result.is_floor:
            floors.append(result)
        else:
            if not trials:  # the paired tests use the first trial's val images
                held_out = record.metrics.splits.get(selection_split(record.metrics))
                if held_out is not None and held_out.labels and held_out.clusters:
                    labels = np.asarray(held_out.labels, dtype=np.int64)
                    clusters = np.asarray(held_out.clusters, dtype=str)
            trials.append(result)
    if legacy:
        notes.append(
            f"{len(legacy)} run(s) were made before the val split existed "
            f"({', '.join(legacy[:3])}{', ...' if len(legacy) > 3 else ''}): they are ranked on "
            "their test split, which is selection on test; run the study again in a fresh "
            "runs_dir to select on val")
    rungs = study_rung_tables(trials, settings, where, notes)
    trials = last_rungs(trials, notes)
    results = StudyResults(
        study_dir=study_dir, name=str(settings.get("name") or study_dir.name),
        objective=objective, report=report, trials=trials, floors=floors,
        labels=labels, clusters=clusters, base=str(space.get("base", "")),
        ops=list(space.get("ops") or []), config=config, config_text=config_text, notes=notes,
        rungs=rungs,
    )
    if trials:
        compare(results, n_boot, seed)
        if not legacy:  # a run without val was selected on test: nothing is left to report
            results.answer = answer(results, n_boot, seed)
    results.op_effects = op_effects(results.trials)
    results.pairwise = pairwise_grid(results.trials, results.ops, results.base)
    results.policy_rankings = policy_rankings(results)
    results.gradcam = read_gradcam(study_dir, notes)
    return results


def write_results(study_dir: Path, n_boot: int = 1000, seed: int = 0) -> StudyResults:
    """Rebuild every results file of a study from its run folders."""
    results = collect(study_dir, n_boot=n_boot, seed=seed)
    if not results.trials:
        raise XraySSLError(
            f"{study_dir} has no finished trial (a folder with config.yaml and metrics.json); "
            "run the study first: xrayssl study run CONFIG"
        )
    results_files(results).write(study_dir)
    return results
