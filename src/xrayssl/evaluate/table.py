"""Plain-text tables of metrics.json results: one row per model and label fraction."""

from __future__ import annotations

from collections.abc import Sequence
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
    out = []
    for metrics in results:
        for key, block in metrics.get("results", {}).items():
            scope = block["metrics"]["overall"] if body_part is None else (
                block["metrics"].get("by_body_part", {}).get(body_part, {}))
            entry = scope.get(level) if scope else None
            n_runs = len(block.get("runs", []))
            labels = f"{float(key):.0%}" + (f" x{n_runs}" if n_runs > 1 else "")
            row = [model_label(metrics), labels]
            row += [format_value(entry.get(c) if entry else None) for c in columns]
            out.append(row)
    return out


def format_table(
    results: Sequence[dict[str, Any]], level: str = "image", body_part: str | None = None,
    columns: Sequence[str] = DEFAULT_COLUMNS, title: str | None = None,
) -> str:
    """Aligned text table; values are ``point [95% CI]``, multi-seed rows say ``xN``."""
    header = ["model", "labels", *columns]
    body = rows(results, level, body_part, columns)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = [title] if title else []
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in body]
    return "\n".join(lines)
