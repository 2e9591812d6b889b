"""A finished study's Grad-CAM stage: its ranked trials explained, then its findings read again.

The findings come in through ``collect`` only: Grad-CAM writes the study's explain folder and
``collect`` reads it, so nothing outside ``findings`` edits a ``StudyResults``.
"""

from __future__ import annotations

from collections.abc import Callable

from xrayssl.data.cache import PreparedCache
from xrayssl.errors import XraySSLError
from xrayssl.explain.study import TrialRef, explain_study
from xrayssl.findings.collect import collect
from xrayssl.findings.model import StudyResults


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
    trials = [TrialRef(t.folder, t.path, t.method, f"{t.method} {t.policy}")
              for t in results.ranked()]
    per_kind = max(1, results.report.gradcam_images // 3)  # rows of TP, FN and FP
    if not explain_study(results.study_dir, trials, cache, per_kind=per_kind,
                         progress=progress):
        return results, False
    return collect(results.study_dir), True
