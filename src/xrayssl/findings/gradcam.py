"""The Grad-CAM stage's record of a study (``<study>/gradcam/explain.json``), read into the
localization summary: which trials were explained, how well each CAM finds the lesion, and
where the comparison sheet is."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xrayssl.errors import XraySSLError
from xrayssl.explain.localization import LocalizationScore
from xrayssl.runs.folder import StudyFolder


@dataclass(frozen=True)
class ExplainedModel:
    name: str  # as named on the comparison sheet
    run: str | None  # the run folder it came from
    localization: LocalizationScore | None  # None: no lesion masks in the data


@dataclass
class GradcamSummary:
    folder: Path
    models: list[ExplainedModel]
    sheet: Path | None  # the comparison sheet, when it is there
    originals_missing: int = 0  # images whose CAMs are drawn over the prepared image
    notes: list[str] = field(default_factory=list)
    sheet_note: str | None = None  # which models the sheet shows, when not all of them

    def by_run(self) -> dict[str, LocalizationScore]:
        return {m.run: m.localization for m in self.models
                if m.run is not None and m.localization is not None}

    @property
    def tolerance(self) -> int | None:
        scores = [m.localization for m in self.models if m.localization is not None]
        return scores[-1].tolerance if scores else None


def _score(data: Any) -> LocalizationScore | None:
    if not isinstance(data, dict):
        return None
    try:
        return LocalizationScore(**data)
    except TypeError:
        return None


def read_gradcam(study_dir: Path, notes: list[str]) -> GradcamSummary | None:
    """None when Grad-CAM has not run for the study; a damaged record becomes a note."""
    explained = StudyFolder(Path(study_dir)).gradcam
    try:
        record = explained.read_record()
    except XraySSLError as err:
        notes.append(f"{err}; Grad-CAM is left out")
        return None
    if record is None:
        return None
    models = [
        ExplainedModel(str(m.get("name", "?")), None if m.get("run") is None else str(m["run"]),
                       _score(m.get("localization")))
        for m in record.get("models", []) if isinstance(m, dict)
    ]
    sheet = explained.sheet
    note = record.get("sheet_note")
    return GradcamSummary(explained.path, models, sheet if sheet.is_file() else None,
                          len(record.get("originals_missing") or {}),
                          sheet_note=str(note) if note else None)
