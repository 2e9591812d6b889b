"""Grad-CAM: the comparison sheet and every explained trial's localization scores."""

from __future__ import annotations

from xrayssl.data.cache import PreparedCache
from xrayssl.findings.model import StudyResults
from xrayssl.report.figures import file_uri
from xrayssl.report.page import Cell, Picture, Section, Table
from xrayssl.report.sections.ranking import localization_cells
from xrayssl.runs.folder import ENCODER_FILE, EXPLAIN_FILE, GRADCAM_DIR, PROBE_FILE, ExplainFolder


def gradcam_section(results: StudyResults, cache: PreparedCache | None = None) -> Section:
    section = Section(
        "gradcam", "Grad-CAM",
        "Where each encoder looks when its probe scores an image as abnormal. Rows: true "
        "positives, false negatives and false positives of the first column's model; the "
        "lesion is outlined in the first column and + marks each CAM's peak. Localization: "
        "the pointing game (share of abnormal images whose CAM peak lies in the lesion, "
        "strictly and within the usual tolerance of 15 px at 224 px, scaled) and the share of "
        "CAM energy inside the lesion, with its ratio to chance (a flat map scores the "
        "lesion's area share). An empty CAM (no positive evidence at the last block; with the "
        "multiscale readout the earlier stages can carry the logit) counts as a miss and is "
        "left out of the energy share; the table counts them.",
    )
    summary = results.gradcam
    if summary is None:
        section.notes.append(f"Grad-CAM has not been run for this study (no {GRADCAM_DIR}/"
                             f"{EXPLAIN_FILE}); `xrayssl report STUDY` runs it when the trials "
                             f"kept {ENCODER_FILE} and {PROBE_FILE}")
        return section
    if summary.sheet is not None:
        section.pictures.append(Picture(file_uri(summary.sheet), "comparison sheet"))
        if summary.sheet_note:  # the sheet shows some of the trials: say which and why
            section.notes.append(f"comparison sheet: {summary.sheet_note}")
    else:
        section.notes.append(f"{ExplainFolder(summary.folder).sheet} is missing")
    rows = [[Cell(m.name), Cell(m.run or ""), *localization_cells(m.localization),
             Cell(str(m.localization.images)),
             Cell(str(m.localization.empty_cams), m.localization.empty_cams)]
            for m in summary.models if m.localization is not None]
    if rows:
        section.tables.append(Table(
            ["model", "run", f"pointing game (strict / within {summary.tolerance} px)",
             "CAM energy in lesion", "abnormal images", "empty CAMs"], rows, sortable=True))
    else:
        section.notes.append("no lesion masks in this data: no localization score")
    if summary.originals_missing:
        section.notes.append(f"{summary.originals_missing} original image(s) could not be read; "
                             "their CAMs are drawn over the prepared image")
    return section
