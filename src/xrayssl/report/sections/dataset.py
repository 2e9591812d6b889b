"""Dataset: the prepared cache's images per body part, label and split, and CLAHE before/after."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from xrayssl.data.cache import PreparedCache
from xrayssl.errors import XraySSLError
from xrayssl.findings.model import StudyResults
from xrayssl.report.figures import array_uri, tile
from xrayssl.report.page import Cell, Picture, Section, Table

NO_CACHE = ("the prepared cache the study used was not found (looked in the trials' "
            "metrics.json, study.yaml data.cache and <study>/cache)")


def open_cache(results: StudyResults) -> tuple[PreparedCache | None, str | None]:
    """The study's prepared cache, or None and why not."""
    path = results.cache_path()
    if path is None:
        return None, NO_CACHE
    try:
        return PreparedCache.open(path), None
    except (XraySSLError, OSError, ValueError) as err:
        return None, f"the cache at {path} could not be opened: {err}"


def dataset_section(results: StudyResults, cache: PreparedCache | None) -> Section:
    section = Section("data", "Dataset")
    if cache is None:
        section.notes.append(open_cache(results)[1] or NO_CACHE)
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
