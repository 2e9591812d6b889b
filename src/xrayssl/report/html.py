"""``build_report(study_dir)``: the whole study on one self-contained HTML page.

The findings derive (``xrayssl.findings.collect``), the report only renders: it reads no
run file itself and runs nothing (Grad-CAM is the study's own stage, ``explain.study``).
Images are inline PNG data URIs, CSS and the small table-sorting script are inline, and a
Content-Security-Policy forbids any network access, so the file can be mailed or archived.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import jinja2

from xrayssl.atomic import atomic_write_text
from xrayssl.errors import XraySSLError
from xrayssl.findings.collect import collect
from xrayssl.findings.model import StudyResults
from xrayssl.report.page import Section
from xrayssl.report.sections import page_sections
from xrayssl.report.sections.dataset import open_cache
from xrayssl.runs.folder import StudyFolder


def render(title: str, subtitle: str, sections: list[Section]) -> str:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("xrayssl.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return environment.get_template("report.html").render(
        title=title, subtitle=subtitle, sections=sections,
        footer=f"xrayssl report, generated {stamp}",
    )


def render_report(results: StudyResults, out: Path | None = None) -> Path:
    """Write the page of ``results`` to ``out`` (default ``<study>/report.html``)."""
    if not results.runs and results.config is None:
        raise XraySSLError(
            f"{results.study_dir} holds neither a study.yaml nor any run with a metrics.json; "
            "give the folder a study wrote (runs/<study name>)"
        )
    cache, _why = open_cache(results)
    methods = sorted({t.method for t in results.trials})
    subtitle = (f"augmentation study · {len(results.runs)} runs · methods: "
                f"{', '.join(methods) or 'none'} · folder {results.study_dir}")
    path = Path(out) if out is not None else StudyFolder(results.study_dir).report
    html = render(f"xrayssl study: {results.name}", subtitle, page_sections(results, cache))
    atomic_write_text(path, html)
    return path


def build_report(study_dir: Path, out: Path | None = None) -> Path:
    """Collect the study's results from its run folders and write its report."""
    return render_report(collect(Path(study_dir)), out)
