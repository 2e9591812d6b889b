"""The study's Grad-CAM stage: explain its finished trials into ``<study>/gradcam/``.

It runs when ``gradcam/explain.json`` is missing or covers other trials than those finished
now (a study that grew); an unchanged study is not explained again.
"""

from __future__ import annotations

from collections.abc import Callable

from xrayssl.data.cache import PreparedCache
from xrayssl.errors import XraySSLError
from xrayssl.study.localization import GRADCAM_DIR, read_gradcam
from xrayssl.study.results import StudyResults


def explain_study(results: StudyResults, cache: PreparedCache | None = None,
                  progress: Callable[[str], None] | None = None) -> bool:
    """Explain the trials of ``results`` (best first) when needed; True when Grad-CAM ran.

    Nothing runs without the study's prepared cache or without a trial that kept
    ``encoder.pt`` and ``probe.json``. ``results.gradcam`` is refreshed when it ran.
    """
    from xrayssl.explain.study import TrialRef, explain_trials, explainable

    if cache is None:
        path = results.cache_path()
        if path is None:
            results.notes.append("Grad-CAM did not run: the study's prepared cache was not found")
            return False
        try:
            cache = PreparedCache.open(path)
        except (XraySSLError, OSError, ValueError) as err:
            results.notes.append(f"Grad-CAM did not run: the cache at {path} could not be "
                                 f"opened ({err})")
            return False
    trials = [TrialRef(t.folder, t.path, t.method, f"{t.method} {t.policy}")
              for t in results.ranked()]
    explained = {m.run for m in results.gradcam.models} if results.gradcam else set()
    if {t.run for t in explainable(trials)} == explained:
        return False
    per_kind = max(1, results.report.gradcam_images // 3)  # rows of TP, FN and FP
    if explain_trials(trials, cache, results.study_dir / GRADCAM_DIR, per_kind=per_kind,
                      progress=progress) is None:
        return False
    results.gradcam = read_gradcam(results.study_dir, results.notes)
    return True
