"""A finished study's Grad-CAM stage: its ranked trials explained, then its findings read again.

The findings come in through ``collect`` only: Grad-CAM writes the study's explain folder and
``collect`` reads it, so nothing outside ``findings`` edits a ``StudyResults``.
"""

from __future__ import annotations

from collections.abc import Callable

from xrayssl.data.cache import PreparedCache
from xrayssl.errors import XraySSLError
from xrayssl.explain.study import BEST_AND_WORST, TrialRef, explain_study
from xrayssl.findings.collect import collect
from xrayssl.findings.model import StudyResults
from xrayssl.findings.run_result import RunResult


def open_study_cache(results: StudyResults) -> PreparedCache:
    """The study's prepared cache, or an XraySSLError saying why Grad-CAM cannot run."""
    path = results.cache_path()
    if path is None:
        raise XraySSLError("Grad-CAM did not run: the study's prepared cache was not found")
    try:
        return PreparedCache.open(path)
    except (XraySSLError, OSError, ValueError) as err:
        raise XraySSLError(f"Grad-CAM did not run: the cache at {path} could not be opened "
                           f"({err})") from None


def explain_findings(results: StudyResults, cache: PreparedCache | None = None,
                     progress: Callable[[str], None] | None = None) -> tuple[StudyResults, bool]:
    """Explain the study's trials (best first) where needed; returns the findings read again
    (with the new Grad-CAM summary) and whether Grad-CAM ran."""
    if cache is None:
        cache = open_study_cache(results)
    ordered, note = sheet_order(results)
    trials = [TrialRef(t.folder, t.path, t.method, f"{t.method} {t.policy}") for t in ordered]
    per_kind = max(1, results.report.gradcam_images // 3)  # rows of TP, FN and FP
    if not explain_study(results.study_dir, trials, cache, per_kind=per_kind,
                         progress=progress, sheet_note=note):
        return results, False
    return collect(results.study_dir), True


def sheet_order(results: StudyResults) -> tuple[list[RunResult], str]:
    """The trials in the order the comparison sheet reads them (its first and last trial of
    each method): per method the selected policy's runs first and its base policy's last
    (best seed outermost), the others between; without an answer, best to worst."""
    ranked = results.ranked()
    if results.answer is None:
        return ranked, BEST_AND_WORST
    chosen = {s.method: set(s.folders) for s in results.answer.selected if s.body_part is None}
    ordered: list[RunResult] = []
    for method in dict.fromkeys(t.method for t in ranked):
        mine = [t for t in ranked if t.method == method]
        first = [t for t in mine if t.folder in chosen.get(method, set())]
        bases = {id(b) for t in mine if (b := results.base_of(method, t.seed)) is not None}
        last = [t for t in mine if id(t) in bases and t not in first]
        middle = [t for t in mine if t not in first and t not in last]
        ordered += first + middle + last[::-1]  # the base's best seed last, on the sheet
    return ordered, ("the selected policy (its best seed) and its base policy, per method; a "
                     "method whose selected policy is its base shows its worst trial beside it")
