"""Paired tests between the trials of a study: each trial against its method's best trial and
against its method's reference policy, Holm-corrected over the comparisons of a method."""

from __future__ import annotations

from xrayssl.evaluate.metrics import paired_bootstrap
from xrayssl.findings.model import StudyResults
from xrayssl.findings.significance import holm


def compare(results: StudyResults, n_boot: int, seed: int) -> None:
    """Fill ``vs_best`` and ``vs_base`` of every trial with paired-bootstrap differences."""
    if results.labels is None or results.clusters is None:
        results.notes.append("no stored predictions: significance tests are left out")
        return
    best = results.best_per_method()
    for method in sorted({t.method for t in results.trials}):
        family: list[tuple[dict[str, float], float]] = []
        for trial in [t for t in results.trials if t.method == method]:
            references = (("vs_best", best.get(method)),
                          ("vs_base", results.base_of(method, trial.seed)))
            for slot, reference in references:
                if reference is None or reference is trial or trial.probs is None \
                        or reference.probs is None or reference.test_key != trial.test_key:
                    continue
                out = paired_bootstrap(results.labels, reference.probs, trial.probs,
                                       results.clusters, metric=results.metric,
                                       n_boot=n_boot, seed=seed)
                block = {"delta": out["delta"], "lo": out["lo"], "hi": out["hi"],
                         "p": out["p_value"]}
                setattr(trial, slot, block)
                family.append((block, out["p_value"]))
        for (block, _p), adjusted in zip(family, holm([p for _b, p in family]), strict=True):
            block["p_holm"] = adjusted
