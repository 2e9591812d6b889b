"""Paired comparison of two metrics.json results on the same test images."""

from __future__ import annotations

import numpy as np

from xrayssl.errors import XraySSLError
from xrayssl.evaluate.metrics import delong_test, paired_bootstrap
from xrayssl.evaluate.table import bootstrap_note, format_p
from xrayssl.runs.metrics_file import HELD_OUT, RunMetrics


def compare_metrics(
    reference: RunMetrics, other: RunMetrics, *, metric: str = "auroc",
    n_boot: int = 2000, seed: int = 0, split: str = HELD_OUT,
) -> list[str]:
    """One line per shared label fraction: ``other - reference`` with a paired cluster-bootstrap
    CI and p-value. Both must hold predictions for the same test images."""
    a, b = reference.splits.get(split), other.splits.get(split)
    if a is None or b is None or not a.indices or a.indices != b.indices \
            or a.labels is None or a.clusters is None:
        raise XraySSLError(
            "these metrics files were not made on the same test images; a paired comparison "
            "needs the same cache, split and body parts"
        )
    y = np.asarray(a.labels, dtype=np.int64)
    clusters = np.asarray(a.clusters, dtype=str)
    lines = []
    for key, result in reference.fractions.items():
        mine, theirs = result.scores.get(split), other.scores(result.fraction, split)
        if mine is None or theirs is None or mine.predictions is None \
                or theirs.predictions is None:
            continue
        prob_a = np.asarray(mine.predictions, dtype=np.float64)  # (S, N)
        prob_b = np.asarray(theirs.predictions, dtype=np.float64)
        out = paired_bootstrap(y, prob_a, prob_b, clusters, metric=metric, n_boot=n_boot,
                               seed=seed)
        line = (
            f"labels {float(key):.0%}: {metric} {out['b']:.3f} vs {out['a']:.3f}, "
            f"difference {out['delta']:+.3f} [{out['lo']:+.3f}, {out['hi']:+.3f}], "
            f"{format_p(out['p_value'])} ({bootstrap_note(reference, split)})"
        )
        single = prob_a.ndim == prob_b.ndim == 2 and len(prob_a) == len(prob_b) == 1
        if metric == "auroc" and single:
            delong = delong_test(y, prob_a[0], prob_b[0])
            line += f"; DeLong {format_p(delong['p_value'])} (images as independent)"
        lines.append(line)
    return lines
