"""The report's sections, in page order; each renders one theme of a ``StudyResults``.

A new section is a function ``(results, cache) -> Section | None`` in a module of this package,
added to ``SECTIONS`` below (None: the section does not apply to this study).
"""

from __future__ import annotations

from collections.abc import Callable

from xrayssl.data.cache import PreparedCache
from xrayssl.findings.model import StudyResults
from xrayssl.report.page import Section
from xrayssl.report.sections.answer import answer_section
from xrayssl.report.sections.augmentation import augmentation_section
from xrayssl.report.sections.dataset import dataset_section
from xrayssl.report.sections.effects import effect_section, efficiency_section, pairwise_section
from xrayssl.report.sections.gradcam import gradcam_section
from xrayssl.report.sections.overview import overview_section
from xrayssl.report.sections.ranking import results_section
from xrayssl.report.sections.reproduce import reproduction_section
from xrayssl.report.sections.rungs import rungs_section

SectionBuilder = Callable[[StudyResults, PreparedCache | None], Section | None]

SECTIONS: list[SectionBuilder] = [
    answer_section,
    overview_section,
    dataset_section,
    augmentation_section,
    results_section,
    rungs_section,
    effect_section,
    pairwise_section,
    efficiency_section,
    gradcam_section,
    reproduction_section,
]


def page_sections(results: StudyResults, cache: PreparedCache | None) -> list[Section]:
    built = (build(results, cache) for build in SECTIONS)
    return [section for section in built if section is not None]
