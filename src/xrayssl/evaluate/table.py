"""Plain-text tables of metrics.json results: one row per model and label fraction."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from xrayssl.runs.metrics_file import HELD_OUT, Estimate, HeldOutSplit, Level, RunMetrics

DEFAULT_COLUMNS = (
    "auroc", "kappa", "accuracy", "sensitivity", "specificity", "precision", "f1",
)


def model_label(metrics: RunMetrics) -> str:
    run, model = metrics.run, metrics.model
    if run.label:
        return run.label
    if run.kind == "baseline":
        kind = run.baseline or "baseline"
        name = model.get("encoder_name")
        if kind == "raw":
            return "raw pixels"
        return f"{kind} ({name})" if name else kind
    spec = model.get("spec", {})
    name = spec.get("name", "encoder") if isinstance(spec, dict) else "encoder"
    return f"{run.method} ({name})" if run.method else str(name)


def format_p(p_value: float) -> str:
    """``p = 0.042``, or ``p < 0.001`` where three decimals would print a zero."""
    return "p < 0.001" if p_value < 0.0005 else f"p = {p_value:.3f}"


def compact_p(p_value: float) -> str:
    """``p=0.042``, or ``p<0.001`` where three decimals would print a zero (table cells)."""
    return "p<0.001" if p_value < 0.0005 else f"p={p_value:.3f}"


def bootstrap_note(metrics: RunMetrics, split: str = HELD_OUT) -> str:
    """What the bootstrap resampled: patients, or single images when every test image is its
    own cluster (MedMNIST and other data without patient ids)."""
    clusters = (metrics.splits.get(split) or HeldOutSplit(how="?")).clusters or []
    if clusters and len(set(clusters)) == len(clusters):
        return "bootstrap over images: the data has no patient ids"
    return "patient bootstrap"


def data_source(metrics: RunMetrics, split: str = HELD_OUT) -> tuple[str, str, int]:
    """(cache folder, how its test split was made, test images) of one metrics file."""
    held = metrics.splits.get(split)
    n = (held.n or len(held.indices or [])) if held is not None else 0
    return (metrics.data.cache or "?", held.how if held is not None else "?", n)


def data_labels(results: Sequence[RunMetrics]) -> dict[tuple[str, str, int], str]:
    """A short name per distinct (cache, test split): the cache folder's name, numbered when
    two sources share it."""
    labels: dict[tuple[str, str, int], str] = {}
    for metrics in results:
        source = data_source(metrics)
        if source in labels:
            continue
        name = Path(source[0]).name or source[0]
        taken = sum(1 for label in labels.values() if label.split("#")[0] == name)
        labels[source] = f"{name}#{taken + 1}" if taken else name
    return labels


def format_value(entry: Estimate | None, with_ci: bool = True) -> str:
    if entry is None or entry.value is None:
        return "n/a"
    text = f"{entry.value:.3f}"
    if with_ci and entry.lo is not None and entry.hi is not None:
        text += f" [{entry.lo:.3f}, {entry.hi:.3f}]"
    return text


def rows(
    results: Sequence[RunMetrics], level: Level = "image", body_part: str | None = None,
    columns: Sequence[str] = DEFAULT_COLUMNS, split: str = HELD_OUT,
) -> list[list[str]]:
    names = data_labels(results)
    out = []
    for metrics in results:
        for key, result in metrics.fractions.items():
            scores = result.scores.get(split)
            n_runs = len(result.fits)
            labels = f"{float(key):.0%}" + (f" x{n_runs}" if n_runs > 1 else "")
            row = [model_label(metrics), names[data_source(metrics)], labels]
            row += [format_value(scores.estimate(c, level, body_part) if scores else None)
                    for c in columns]
            out.append(row)
    return out


def format_table(
    results: Sequence[RunMetrics], level: Level = "image", body_part: str | None = None,
    columns: Sequence[str] = DEFAULT_COLUMNS, title: str | None = None, split: str = HELD_OUT,
) -> str:
    """Aligned text table of one split; values are ``point [95% CI]``, multi-seed rows say
    ``xN``. The ``data`` column names the cache; the lines below say how the split was made."""
    header = ["model", "data", "labels", *columns]
    body = rows(results, level, body_part, columns, split)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = [title] if title else []
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in body]
    names = data_labels(results)
    notes: dict[str, str] = {}
    for metrics in results:
        source, held = data_source(metrics), data_source(metrics, split)
        notes.setdefault(names[source], f"data {names[source]}: {source[0]}; {split}: {held[1]}, "
                                        f"{held[2]} images; CIs by "
                                        f"{bootstrap_note(metrics, split)}")
    lines += list(notes.values())
    return "\n".join(lines)


SELECTION_SPLIT = "val"


def format_splits(
    results: Sequence[RunMetrics], level: Level = "image", body_part: str | None = None,
    columns: Sequence[str] = DEFAULT_COLUMNS, title: str | None = None,
) -> str:
    """The val table first (the split to choose encoders on), then the test table, labelled
    as the split that is reported once; files without val scores show test alone."""
    with_val = [m for m in results if SELECTION_SPLIT in m.splits]
    blocks = []
    if with_val:
        blocks.append(format_table(
            with_val, level, body_part, columns, split=SELECTION_SPLIT,
            title=f"{title + ': ' if title else ''}val, the split to choose on"))
    blocks.append(format_table(
        results, level, body_part, columns,
        title=(f"{title + ': ' if title else ''}test, reported once: do not choose encoders or "
               "settings by it" if with_val else title)))
    return "\n\n".join(blocks)
