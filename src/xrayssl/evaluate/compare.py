"""Paired comparison of two metrics.json results on the same test images."""

from __future__ import annotations

from typing import Any

import numpy as np

from xrayssl.errors import XraySSLError
from xrayssl.evaluate.metrics import delong_test, paired_bootstrap
from xrayssl.evaluate.table import bootstrap_note, format_p


def compare_metrics(
    reference: dict[str, Any], other: dict[str, Any], *, metric: str = "auroc",
    n_boot: int = 2000, seed: int = 0,
) -> list[str]:
    """One line per shared label fraction: ``other - reference`` with a paired cluster-bootstrap
    CI and p-value. Both must hold predictions for the same test images."""
    a, b = reference.get("predictions", {}), other.get("predictions", {})
    if not a or not b or a.get("test_indices") != b.get("test_indices"):
        raise XraySSLError(
            "these metrics files were not made on the same test images; a paired comparison "
            "needs the same cache, split and body parts"
        )
    y = np.asarray(a["labels"], dtype=np.int64)
    clusters = np.asarray(a["clusters"], dtype=str)
    lines = []
    for key, probs_a in a["by_fraction"].items():
        if key not in b["by_fraction"]:
            continue
        prob_a = np.asarray(probs_a, dtype=np.float64)
        prob_b = np.asarray(b["by_fraction"][key], dtype=np.float64)
        result = paired_bootstrap(y, prob_a, prob_b, clusters, metric=metric, n_boot=n_boot,
                                  seed=seed)
        line = (
            f"labels {float(key):.0%}: {metric} {result['b']:.3f} vs {result['a']:.3f}, "
            f"difference {result['delta']:+.3f} [{result['lo']:+.3f}, {result['hi']:+.3f}], "
            f"{format_p(result['p_value'])} ({bootstrap_note(reference)})"
        )
        single = prob_a.ndim == prob_b.ndim == 2 and len(prob_a) == len(prob_b) == 1
        if metric == "auroc" and single:
            delong = delong_test(y, prob_a[0], prob_b[0])
            line += f"; DeLong {format_p(delong['p_value'])} (images as independent)"
        lines.append(line)
    return lines
