"""The report's sections, each built from the study files alone. A section whose inputs are
missing is still listed, with a note saying what is missing and how to produce it."""

from __future__ import annotations

import importlib.metadata
import math
import platform
import subprocess
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xrayssl.data.cache import PreparedCache
from xrayssl.errors import XraySSLError
from xrayssl.report.figures import (
    Bar,
    Curve,
    array_uri,
    curves_chart,
    effect_chart,
    file_uri,
    heatmap,
    tile,
)
from xrayssl.report.study_files import Estimate, Run, StudyFiles
from xrayssl.study.results import op_changes
from xrayssl.study.space import op_names

PACKAGES = ("xrayssl", "torch", "torchvision", "lightly", "pytorch-lightning", "kornia",
            "opencv-python-headless", "scikit-learn", "grad-cam", "optuna", "numpy", "pydicom",
            "matplotlib", "jinja2", "timm")


@dataclass
class Cell:
    text: str
    sort: str | float | None = None  # numeric or text key for the sortable table
    detail: str = ""  # shown small under the text (a confidence interval)


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Cell]]
    row_ids: list[str] = field(default_factory=list)
    sortable: bool = False


@dataclass
class Picture:
    uri: str
    caption: str = ""
    width: int | None = None  # CSS pixels; None: natural size up to the column width


@dataclass
class Section:
    id: str
    title: str
    intro: str = ""
    tables: list[Table] = field(default_factory=list)
    pictures: list[Picture] = field(default_factory=list)
    preformatted: list[tuple[str, str]] = field(default_factory=list)  # (heading, text)
    notes: list[str] = field(default_factory=list)


def fmt(estimate: Estimate | None, ci: bool = True) -> Cell:
    if estimate is None or not math.isfinite(estimate.value):
        return Cell("–", None)
    detail = ""
    if ci and math.isfinite(estimate.lo) and math.isfinite(estimate.hi):
        detail = f"[{estimate.lo:.3f}, {estimate.hi:.3f}]"
    return Cell(f"{estimate.value:.3f}", estimate.value, detail)


def objective(run: Run, files: StudyFiles) -> float:
    levels = run.study_metrics if files.objective_level == "study" else run.metrics
    estimate = levels.get(files.objective_metric)
    return estimate.value if estimate is not None else math.nan


def ranked(files: StudyFiles) -> list[Run]:
    """Runs by the objective, best first; runs without a value last, in folder order."""
    return sorted(files.runs, key=lambda r: (-objective(r, files)
                                             if math.isfinite(objective(r, files)) else math.inf))


def localization_by_run(files: StudyFiles) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for model in (files.explain or {}).get("models", []):
        if isinstance(model, dict) and model.get("run") and isinstance(
                model.get("localization"), dict):
            out[str(model["run"])] = model["localization"]
    return out


# -- overview ---------------------------------------------------------------------------------

def overview_section(files: StudyFiles) -> Section:
    section = Section("overview", "Overview")
    trials = [r for r in files.runs if not r.baseline]
    metric = files.objective_metric
    section.intro = (
        f"{len(trials)} trial(s) and {len(files.runs) - len(trials)} baseline(s) found in "
        f"{files.root}. Ranked by {files.objective_level}-level {metric.upper()} of a linear "
        "probe trained on "
        f"{files.objective_fraction:.0%} of the training labels."
    )
    best: dict[str, Run] = {}
    for run in ranked(files):
        if not run.baseline and math.isfinite(objective(run, files)):
            best.setdefault(run.method, run)
    if best:
        section.tables.append(Table(
            ["method", "best policy", metric.upper()],
            [[Cell(m), Cell(r.policy_label), fmt((r.study_metrics if files.objective_level ==
                                                  "study" else r.metrics).get(metric))]
             for m, r in best.items()],
        ))
    else:
        section.notes.append("no finished trial with metrics yet")
    section.notes.extend(files.notes)
    return section


# -- data -------------------------------------------------------------------------------------

def open_cache(files: StudyFiles) -> tuple[PreparedCache | None, str | None]:
    path = files.cache_path()
    if path is None:
        return None, ("the prepared cache the study used was not found (looked in the trials' "
                      "metrics.json, study.yaml data.cache and <study>/cache)")
    try:
        return PreparedCache.open(path), None
    except (XraySSLError, OSError, ValueError) as err:
        return None, f"the cache at {path} could not be opened: {err}"


def dataset_section(files: StudyFiles, cache: PreparedCache | None, why: str | None) -> Section:
    section = Section("data", "Dataset")
    if cache is None:
        section.notes.append(why or "no cache")
        return section
    section.intro = (f"Prepared cache {cache.root}: {len(cache)} images, {cache.size} px, "
                     f"config hash {cache.config_hash}.")
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    splits = sorted({r.split or "none" for r in cache.records})
    for record in cache.records:
        label = {0: "normal", 1: "abnormal"}.get(record.label, "unlabelled")  # type: ignore[arg-type]
        row = counts[record.body_part]
        row[label] += 1
        row[f"split:{record.split or 'none'}"] += 1
    columns = ["body part", "normal", "abnormal", "unlabelled", "total",
               *[f"{s} images" for s in splits]]
    rows = []
    for part in sorted(counts):
        row = counts[part]
        total = row["normal"] + row["abnormal"] + row["unlabelled"]
        rows.append([Cell(part), *(Cell(str(row[k]), row[k]) for k in
                                   ("normal", "abnormal", "unlabelled")), Cell(str(total), total),
                     *(Cell(str(row[f"split:{s}"]), row[f"split:{s}"]) for s in splits)])
    section.tables.append(Table(columns, rows, sortable=True))
    section.pictures.extend(clahe_pictures(cache, section.notes))
    return section


def sample_indices(cache: PreparedCache, count: int, seed: int = 0) -> list[int]:
    """One image per body part first (abnormal where possible), then random others."""
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    for part in cache.body_parts():
        members = cache.select(body_parts=[part])
        abnormal = [int(i) for i in members if cache.labels[int(i)] == 1]
        pool = abnormal or [int(i) for i in members]
        if pool:
            chosen.append(int(rng.choice(pool)))
    rest = [i for i in range(len(cache)) if i not in set(chosen)]
    rng.shuffle(rest)
    return (chosen + rest)[:count]


def clahe_pictures(cache: PreparedCache, notes: list[str]) -> list[Picture]:
    from xrayssl.explain.gradcam import display_images

    indices = sample_indices(cache, 6)
    originals = display_images(cache, indices, "original")
    if len(originals.fallbacks) == len(indices):
        notes.append("the original images could not be read (" +
                      next(iter(originals.fallbacks.values())) +
                      "), so only the prepared images are shown")
        strip = tile([np.asarray(cache.images[i]) for i in indices])
        return [Picture(array_uri(strip), "prepared (CLAHE) images",
                        strip.shape[1] * max(1, 128 // cache.size))]
    keep = [p for p in range(len(indices)) if p not in originals.fallbacks]
    before = tile([originals.images[p] for p in keep])
    after = tile([np.asarray(cache.images[indices[p]]) for p in keep])
    width = before.shape[1] * max(1, 128 // cache.size)  # small images shown enlarged
    return [Picture(array_uri(before), "before: original images, resized and padded", width),
            Picture(array_uri(after), "after: the prepared images the encoders see (CLAHE)",
                    width)]


# -- augmentation previews --------------------------------------------------------------------

MAX_PREVIEWS = 40


def policy_specs(files: StudyFiles) -> list[str]:
    specs = set()
    for run in files.runs:
        if not run.baseline:
            specs.add(run.policy)
            if run.policy_b is not None:
                specs.add(run.policy_b)
    return sorted(specs, key=lambda s: (len(s), s))


def augmentation_section(files: StudyFiles, cache: PreparedCache | None) -> Section:
    section = Section("augment", "Augmentation policies",
                      "For each policy: the prepared image, then four random draws (seed 0).")
    specs = policy_specs(files)
    if not specs:
        section.notes.append("no trial policies found")
        return section
    if cache is None:
        section.notes.append("no cache to draw a preview image from")
        return section
    try:
        from xrayssl.augment.spec import parse_policy
    except ImportError as err:
        section.notes.append(f"augmentation module unavailable ({err})")
        return section
    import torch

    if len(specs) > MAX_PREVIEWS:
        section.notes.append(f"{len(specs)} policies; the first {MAX_PREVIEWS} are shown")
    index = sample_indices(cache, 1)[0]
    image = torch.from_numpy(np.array(cache.images[index])).float().div(255)
    batch = image[None, None].repeat(4, 1, 1, 1)  # (4, 1, S, S)
    for spec in specs[:MAX_PREVIEWS]:
        try:
            policy = parse_policy(spec)
            views = policy(batch, generator=torch.Generator().manual_seed(0))
        except (XraySSLError, ValueError, RuntimeError) as err:
            section.notes.append(f"policy {spec!r} could not be previewed: {err}")
            continue
        draws = [(v[0].clamp(0, 1) * 255).round().byte().numpy() for v in views]
        strip = tile([np.asarray(cache.images[index]), *draws])
        section.pictures.append(Picture(array_uri(strip), spec or "identity",
                                        width=strip.shape[1] * max(1, 96 // cache.size)))
    return section


# -- results ----------------------------------------------------------------------------------

def results_section(files: StudyFiles) -> Section:
    metric = files.objective_metric
    section = Section(
        "results", "Ranked results",
        "Every run of the study, best first, with bootstrap confidence intervals (patients "
        "resampled). Δ: paired-bootstrap difference to the best run and to the base policy "
        "of the same method, * where significant (Holm-corrected p < 0.05). Click a column "
        "header to sort.",
    )
    runs = ranked(files)
    if not runs:
        section.notes.append("no run folder with a metrics.json was found")
        return section
    local = localization_by_run(files)
    has_study = any(r.study_metrics for r in runs)
    columns = ["rank", "method", "policy", "seed", f"{metric.upper()} [CI]", "kappa [CI]"]
    if metric == "kappa":
        columns[-1] = "AUROC [CI]"
    if has_study:
        columns.append(f"study-level {metric.upper()} [CI]")
    tests = files.significance
    if tests:
        columns += ["Δ vs best", "Δ vs base policy"]
    if local:
        columns += ["pointing game (strict / near)", "CAM energy in lesion"]
    columns.append("run folder")
    rows, ids = [], []
    for rank, run in enumerate(runs, start=1):
        other = "auroc" if metric == "kappa" else "kappa"
        row = [Cell(str(rank), rank), Cell(run.method),
               Cell(run.policy_label + (" (baseline)" if run.baseline else "")),
               Cell("" if run.seed is None else str(run.seed), run.seed),
               fmt(run.metrics.get(metric)), fmt(run.metrics.get(other))]
        if has_study:
            row.append(fmt(run.study_metrics.get(metric)))
        if tests:
            row += [difference_cell(tests.get(run.name, {}), slot)
                    for slot in ("vs_best", "vs_baseline")]
        if local:
            score = local.get(run.name)
            row += localization_cells(score) if score is not None else [Cell("–"), Cell("–")]
        row.append(Cell(run.name))
        rows.append(row)
        ids.append(run.name)
    section.tables.append(Table(columns, rows, ids, sortable=True))
    section.tables.extend(body_part_tables(files, runs))
    return section


def difference_cell(row: dict[str, str], slot: str) -> Cell:
    """A paired-bootstrap difference from ranked.csv: delta (* when Holm p < 0.05), p below."""
    try:
        delta = float(row[f"{slot}_delta"])
        p_holm = float(row[f"{slot}_p_holm"])
    except (KeyError, ValueError):
        return Cell("–")
    star = " *" if row.get(f"{slot}_significant") == "true" else ""
    return Cell(f"{delta:+.3f}{star}", delta, f"p={p_holm:.3f} (Holm)")


def localization_cells(score: dict[str, Any]) -> list[Cell]:
    """'strict / near' pointing-game rates and the energy share with its ratio to chance."""
    strict = float(score.get("pointing_game", math.nan))
    near = float(score.get("pointing_game_tolerant", math.nan))
    energy = float(score.get("energy_inside", math.nan))
    chance = float(score.get("chance_energy", math.nan))
    ratio = energy / chance if chance > 0 else math.nan
    return [Cell(f"{strict:.2f} / {near:.2f}", strict),
            Cell(f"{energy:.3g}", energy, f"{ratio:.1f}× chance")]


def body_part_tables(files: StudyFiles, runs: Sequence[Run]) -> list[Table]:
    """Best run per body part (the study asks for the best policy per body part)."""
    best: dict[str, tuple[Run, Estimate]] = {}
    for run in runs:
        if run.baseline:
            continue
        for part, estimate in run.by_body_part.items():
            if part not in best or estimate.value > best[part][1].value:
                best[part] = (run, estimate)
    if not best:
        return []
    rows = [[Cell(part), Cell(run.method), Cell(run.policy_label), fmt(estimate)]
            for part, (run, estimate) in sorted(best.items())]
    return [Table(["body part", "best method", "best policy",
                   f"{files.objective_metric.upper()} [CI]"], rows, sortable=True)]


def per_op_effects(files: StudyFiles) -> list[Bar]:
    """Mean change of the objective when one op is added to an otherwise equal policy."""
    values: dict[tuple[str, int | None, frozenset[str]], float] = {}
    for run in files.runs:
        value = objective(run, files)
        ops = op_names(run.policy)
        if run.baseline or run.policy_b is not None or ops is None or not math.isfinite(value):
            continue
        values[(run.method, run.seed, ops)] = value
    changes = op_changes(values)
    return [Bar(method, op, float(np.mean(diffs)), len(diffs))
            for (method, op), diffs in sorted(changes.items())]


def effect_section(files: StudyFiles) -> Section:
    metric = files.objective_metric.upper()
    section = Section("effects", "Per-op effect",
                      f"For each op: the mean change in {metric} between a policy with the op and "
                      "the same policy without it (same method and seed); n = pairs averaged.")
    bars = per_op_effects(files)
    if bars:
        section.pictures.append(Picture(effect_chart(bars, metric)))
    else:
        section.notes.append("no pair of policies that differ by exactly one op (the per-op "
                             "effect needs a subsets or ablation study)")
    return section


def pairwise_section(files: StudyFiles) -> Section | None:
    pairs = [r for r in files.runs if r.policy_b is not None and not r.baseline]
    if not pairs:
        return None
    section = Section("pairwise", "Pairwise: one op per view",
                      "Each cell: the op on view 1 (row) and on view 2 (column), the SimCLR "
                      "paper's Figure 5 layout; the mean over seeds.")
    for method in sorted({r.method for r in pairs}):
        mine = [r for r in pairs if r.method == method]
        rows = sorted({r.policy for r in mine})
        cols = sorted({r.policy_b for r in mine if r.policy_b is not None})
        cells: dict[tuple[str, str], list[float]] = defaultdict(list)
        for run in mine:
            value = objective(run, files)
            if math.isfinite(value) and run.policy_b is not None:
                cells[(run.policy, run.policy_b)].append(value)
        matrix = np.full((len(rows), len(cols)), np.nan)
        for (a, b), vals in cells.items():
            matrix[rows.index(a), cols.index(b)] = float(np.mean(vals))
        section.pictures.append(Picture(
            heatmap(matrix, rows, cols, method, files.objective_metric.upper()), method))
    return section


def efficiency_section(files: StudyFiles, per_method: int = 3) -> Section:
    metric = files.objective_metric.upper()
    section = Section("efficiency", "Label efficiency",
                      f"{metric} of the linear probe trained on a fraction of the training "
                      f"labels (mean over subsets, with CIs): the best {per_method} trials per "
                      "method, and the baselines dashed.")
    curves: list[Curve] = []
    taken: dict[str, int] = defaultdict(int)
    for run in ranked(files):
        if len(run.by_fraction) < 2:
            continue
        if not run.baseline:
            if taken[run.method] >= per_method:
                continue
            taken[run.method] += 1
        fractions = list(run.by_fraction)
        estimates = list(run.by_fraction.values())
        label = f"{run.method} {run.policy_label}" if not run.baseline else run.policy_label
        curves.append(Curve(label, fractions, [e.value for e in estimates],
                            [e.lo for e in estimates], [e.hi for e in estimates],
                            dashed=run.baseline))
    if curves:
        section.pictures.append(Picture(curves_chart(curves, metric)))
    else:
        section.notes.append("no run was evaluated at more than one label fraction")
    return section


# -- Grad-CAM ---------------------------------------------------------------------------------

def gradcam_section(files: StudyFiles) -> Section:
    section = Section(
        "gradcam", "Grad-CAM",
        "Where each encoder looks when its probe scores an image as abnormal. Rows: true "
        "positives, false negatives and false positives of the first column's model; the "
        "lesion is outlined in the first column and + marks each CAM's peak. Localization: "
        "the pointing game (share of abnormal images whose CAM peak lies in the lesion, "
        "strictly and within the usual tolerance of 15 px at 224 px, scaled) and the share of "
        "CAM energy inside the lesion, with its ratio to chance (a flat map scores the "
        "lesion's area share).",
    )
    record = files.explain
    if record is None:
        section.notes.append("Grad-CAM has not been run for this study (no gradcam/explain.json); "
                             "`xrayssl report STUDY` runs it when the trials kept encoder.pt and "
                             "probe.json")
        return section
    sheet = files.gradcam_dir / "comparison.png"
    if sheet.is_file():
        section.pictures.append(Picture(file_uri(sheet), "comparison sheet"))
        if record.get("sheet_note"):  # the sheet shows some of the trials: say which and why
            section.notes.append(f"comparison sheet: {record['sheet_note']}")
    else:
        section.notes.append(f"{sheet} is missing")
    rows = []
    tolerance = None
    for model in record.get("models", []):
        if not isinstance(model, dict):
            continue
        score = model.get("localization")
        if isinstance(score, dict):
            tolerance = score.get("tolerance", tolerance)
            rows.append([Cell(str(model.get("name", "?"))), Cell(str(model.get("run") or "")),
                         *localization_cells(score), Cell(str(score.get("images", "")))])
    if rows:
        section.tables.append(Table(
            ["model", "run", f"pointing game (strict / within {tolerance} px)",
             "CAM energy in lesion", "abnormal images"], rows, sortable=True))
    else:
        section.notes.append("no lesion masks in this data: no localization score")
    missing = record.get("originals_missing") or {}
    if missing:
        section.notes.append(f"{len(missing)} original image(s) could not be read; their CAMs "
                             "are drawn over the prepared image")
    return section


# -- reproduction -----------------------------------------------------------------------------

def package_versions() -> list[tuple[str, str]]:
    out = []
    for name in PACKAGES:
        try:
            out.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def source_revision() -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(Path(__file__).parent), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def reproduction_section(files: StudyFiles) -> Section:
    section = Section("reproduce", "Reproduce",
                      "The exact configuration and software versions of this study.")
    if files.config_text is not None:
        section.preformatted.append(("study.yaml", files.config_text))
    else:
        section.notes.append("no study.yaml in the study folder")
    versions = package_versions()
    section.tables.append(Table(["package", "version"],
                                [[Cell(n), Cell(v)] for n, v in versions]))
    system = [f"python {sys.version.split()[0]} on {platform.platform()}"]
    revision = source_revision()
    if revision:
        system.append(f"xrayssl source revision {revision}")
    name = (files.config or {}).get("name", files.root.name)
    system.append(f"rerun: xrayssl study run <the study YAML>  (study name {name})")
    section.preformatted.append(("environment", "\n".join(system)))
    return section

