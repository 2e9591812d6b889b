"""Plain-text tables of metrics.json results: one row per model and label fraction."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEFAULT_COLUMNS = (
    "auroc", "kappa", "accuracy", "sensitivity", "specificity", "precision", "f1",
)


def model_label(metrics: dict[str, Any]) -> str:
    model = metrics.get("model", {})
    if model.get("label"):
        return str(model["label"])
    if model.get("baseline"):
        kind = str(model.get("kind", "baseline"))
        name = model.get("encoder_name")
        if kind == "raw":
            return "raw pixels"
        return f"{kind} ({name})" if name else kind
    spec = model.get("spec", {})
    meta = model.get("meta", {})
    method = model.get("method") or meta.get("method") or meta.get("config", {}).get("method")
    name = spec.get("name", "encoder") if isinstance(spec, dict) else "encoder"
    return f"{method} ({name})" if method else str(name)


def format_p(p_value: float) -> str:
    """``p = 0.042``, or ``p < 0.001`` where three decimals would print a zero."""
    return "p < 0.001" if p_value < 0.0005 else f"p = {p_value:.3f}"


def resampling_unit(metrics: dict[str, Any]) -> str:
    """What the bootstrap resampled: ``patient``, ``study`` or ``image`` (no patient ids)."""
    unit = metrics.get("data", {}).get("resampling_unit")
    if unit:
        return str(unit)
    # Files written before the unit was recorded: unique clusters mean one image per cluster.
    clusters = metrics.get("predictions", {}).get("clusters") or []
    return "image" if clusters and len(set(clusters)) == len(clusters) else "patient"


def bootstrap_note(metrics: dict[str, Any]) -> str:
    unit = resampling_unit(metrics)
    if unit == "image":
        return "bootstrap over images: the data has no patient ids"
    return f"{unit} bootstrap"


def data_source(metrics: dict[str, Any]) -> tuple[str, str, int]:
    """(cache folder, how its test split was made, test images) of one metrics file."""
    data = metrics.get("data", {})
    return (str(data.get("cache", "?")), str(data.get("split", "?")),
            int(data.get("n_test", 0)))


def data_labels(results: Sequence[dict[str, Any]]) -> dict[tuple[str, str, int], str]:
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


def format_value(entry: dict[str, Any] | None, with_ci: bool = True) -> str:
    if not entry or entry.get("value") is None:
        return "n/a"
    text = f"{entry['value']:.3f}"
    if with_ci and entry.get("lo") is not None and entry.get("hi") is not None:
        text += f" [{entry['lo']:.3f}, {entry['hi']:.3f}]"
    return text


def rows(
    results: Sequence[dict[str, Any]], level: str = "image", body_part: str | None = None,
    columns: Sequence[str] = DEFAULT_COLUMNS,
) -> list[list[str]]:
    names = data_labels(results)
    out = []
    for metrics in results:
        for key, block in metrics.get("results", {}).items():
            scope = block["metrics"]["overall"] if body_part is None else (
                block["metrics"].get("by_body_part", {}).get(body_part, {}))
            entry = scope.get(level) if scope else None
            n_runs = len(block.get("runs", []))
            labels = f"{float(key):.0%}" + (f" x{n_runs}" if n_runs > 1 else "")
            row = [model_label(metrics), names[data_source(metrics)], labels]
            row += [format_value(entry.get(c) if entry else None) for c in columns]
            out.append(row)
    return out


def format_table(
    results: Sequence[dict[str, Any]], level: str = "image", body_part: str | None = None,
    columns: Sequence[str] = DEFAULT_COLUMNS, title: str | None = None,
) -> str:
    """Aligned text table; values are ``point [95% CI]``, multi-seed rows say ``xN``. The
    ``data`` column names the cache; the lines below say how each test split was made."""
    header = ["model", "data", "labels", *columns]
    body = rows(results, level, body_part, columns)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = [title] if title else []
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in body]
    notes: dict[str, str] = {}
    for metrics in results:
        source = data_source(metrics)
        name = data_labels(results)[source]
        notes.setdefault(name, f"data {name}: {source[0]}; test: {source[1]}, {source[2]} "
                               f"images; CIs by {bootstrap_note(metrics)}")
    lines += list(notes.values())
    return "\n".join(lines)
