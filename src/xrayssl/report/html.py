"""``build_report(study_dir)``: the whole study on one self-contained HTML page.

Images are inline PNG data URIs, CSS and the small table-sorting script are inline, and a
Content-Security-Policy forbids any network access, so the file can be mailed or archived.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import jinja2

from xrayssl.atomic import atomic_write_text
from xrayssl.errors import XraySSLError
from xrayssl.report.sections import (
    Section,
    augmentation_section,
    dataset_section,
    effect_section,
    efficiency_section,
    gradcam_section,
    open_cache,
    overview_section,
    pairwise_section,
    ranked,
    reproduction_section,
    results_section,
)
from xrayssl.report.study_files import read_study

REPORT_FILE = "report.html"


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


def build_report(study_dir: Path, out: Path | None = None, gradcam: bool | None = None) -> Path:
    """Write the report of ``study_dir`` to ``out`` (default ``study_dir/report.html``).

    ``gradcam``: run Grad-CAM for the study's trials first when ``gradcam/explain.json`` is
    missing or covers other trials than those now finished (None: as the study config's
    ``report.gradcam`` says, default yes).
    """
    study_dir = Path(study_dir)
    if not study_dir.is_dir():
        raise XraySSLError(f"study folder not found: {study_dir}")
    files = read_study(study_dir)
    if not files.runs and files.config is None:
        raise XraySSLError(
            f"{study_dir} holds neither a study.yaml nor any run with a metrics.json; "
            "give the folder a study wrote (runs/<study name>)"
        )
    cache, why = open_cache(files)
    wanted = gradcam if gradcam is not None else bool(
        ((files.config or {}).get("report") or {}).get("gradcam", True)
    )
    if wanted and cache is not None:
        from xrayssl.explain.study import TrialRef, explain_trials, explainable

        trials = [TrialRef(r.name, r.folder, r.method, f"{r.method} {r.policy_label}")
                  for r in ranked(files) if not r.baseline]
        explained = {m.get("run") for m in (files.explain or {}).get("models", [])
                     if isinstance(m, dict)}
        # (Re)run when trials finished since the last Grad-CAM, e.g. a study that grew.
        if {t.run for t in explainable(trials)} != explained:
            images = int(((files.config or {}).get("report") or {}).get("gradcam_images", 6))
            if explain_trials(trials, cache, files.gradcam_dir, per_kind=max(1, images // 3)):
                files = read_study(study_dir)
    sections = [
        overview_section(files),
        dataset_section(files, cache, why),
        augmentation_section(files, cache),
        results_section(files),
        effect_section(files),
    ]
    pairwise = pairwise_section(files)
    if pairwise is not None:
        sections.append(pairwise)
    sections += [efficiency_section(files), gradcam_section(files), reproduction_section(files)]
    name = str((files.config or {}).get("name") or study_dir.name)
    methods = sorted({r.method for r in files.runs if not r.baseline})
    subtitle = (f"augmentation study · {len(files.runs)} runs · methods: "
                f"{', '.join(methods) or 'none'} · folder {study_dir}")
    path = Path(out) if out is not None else study_dir / REPORT_FILE
    atomic_write_text(path, render(f"xrayssl study: {name}", subtitle, sections))
    return path
