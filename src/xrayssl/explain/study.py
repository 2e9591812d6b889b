"""Grad-CAM for a whole study: a localization score for every trial, and one comparison sheet
with the first and the last trial of each method side by side (``<study>/gradcam/``): the
caller orders them (the selected policy first and its base policy last, or best to worst).

``explain_study`` runs when the study's explain record is missing or covers other trials than
those given (a study that grew); an unchanged study is not explained again. What it wrote is
read back by ``findings.collect``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch

from xrayssl.data.cache import PreparedCache
from xrayssl.errors import XraySSLError
from xrayssl.explain.run import ExplainSummary, ModelToExplain, explain_models, load_model
from xrayssl.runs.folder import RunFolder, StudyFolder

# What the sheet shows when the trials come ranked best first.
BEST_AND_WORST = "the best and the worst trial of each method"


@dataclass(frozen=True)
class TrialRef:
    """A trial folder to explain; trials are passed best first."""

    run: str  # folder relative to the study folder
    folder: Path
    method: str
    label: str  # how the trial is named on the sheet (method and policy)


def sheet_positions(trials: Sequence[TrialRef]) -> list[int]:
    """The first and the last trial of each method, methods in order."""
    positions: list[int] = []
    for method in dict.fromkeys(t.method for t in trials):
        mine = [i for i, t in enumerate(trials) if t.method == method]
        positions.extend(dict.fromkeys([mine[0], mine[-1]]))
    return positions


def explainable(trials: Sequence[TrialRef]) -> list[TrialRef]:
    """The trials that kept what Grad-CAM needs: the encoder and its probe."""
    return [t for t in trials if RunFolder(t.folder).explainable()]


def _load(trial: TrialRef) -> ModelToExplain:
    run = RunFolder(trial.folder)
    model = load_model(run.encoder, run.probe, name=trial.label)
    model.run = trial.run
    return model


def explain_trials(
    trials: Sequence[TrialRef],
    cache: PreparedCache,
    out_dir: Path,
    *,
    per_kind: int = 2,
    max_images: int = 64,
    device: str | torch.device | None = None,
    progress: Callable[[str], None] | None = None,
    sheet_note: str = BEST_AND_WORST,
) -> ExplainSummary | None:
    """Explain every trial that kept its encoder and probe; None if none did."""
    usable = explainable(trials)
    if not usable:
        return None
    labels: set[str] = set()
    named = []
    for trial in usable:  # the sheet needs distinct names: add the folder when labels repeat
        label = trial.label if trial.label not in labels else f"{trial.label} ({trial.run})"
        labels.add(label)
        named.append(TrialRef(trial.run, trial.folder, trial.method, label))
    return explain_models(
        [partial(_load, trial) for trial in named], cache, out_dir, per_kind=per_kind,
        max_images=max_images, device=device, in_sheet=sheet_positions(named), overlays=False,
        sheet_note=f"{sheet_note}; every trial's localization score is in the table",
        progress=progress,
    )


def explained_runs(study_dir: Path) -> set[str] | None:
    """The run folders the study's explain record covers; None without a readable record."""
    try:
        record = StudyFolder(study_dir).gradcam.read_record()
    except XraySSLError:
        return None
    if record is None:
        return None
    return {str(m.get("run")) for m in record.get("models", []) if isinstance(m, dict)}


def explain_study(study_dir: Path, trials: Sequence[TrialRef], cache: PreparedCache, *,
                  per_kind: int = 2, progress: Callable[[str], None] | None = None,
                  sheet_note: str = BEST_AND_WORST) -> bool:
    """Explain ``trials`` (best first) into the study's Grad-CAM folder when its record does
    not cover exactly the explainable ones; True when Grad-CAM ran."""
    if {t.run for t in explainable(trials)} == explained_runs(study_dir):
        return False
    out_dir = StudyFolder(study_dir).gradcam.path
    return explain_trials(trials, cache, out_dir, per_kind=per_kind, progress=progress,
                          sheet_note=sheet_note) is not None
