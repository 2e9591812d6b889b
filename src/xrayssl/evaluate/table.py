"""Plain-text tables of metrics.json results: one row per model and label fraction."""

from __future__ import annotations

from collections.abc import Sequence

from xrayssl.runs.metrics_file import HELD_OUT, Estimate, Level, RunMetrics

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
    out = []
    for metrics in results:
        for key, result in metrics.fractions.items():
            scores = result.scores.get(split)
            n_runs = len(result.fits)
            labels = f"{float(key):.0%}" + (f" x{n_runs}" if n_runs > 1 else "")
            row = [model_label(metrics), labels]
            row += [format_value(scores.estimate(c, level, body_part) if scores else None)
                    for c in columns]
            out.append(row)
    return out


def format_table(
    results: Sequence[RunMetrics], level: Level = "image", body_part: str | None = None,
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
