"""Each method's policies ranked on val over their pretraining seeds: the study's ranking table.

A single run is one seed; ranking runs would show the luckiest seed as the best policy and
contradict the answer. The rows here are the answer's own ``rank_policies`` result for the
method on all val images (``Selected.ranking``: each policy's seeds and label subsets pooled,
the two-level CI, the selection-aware Holm p of its gap to the best, P(best), the top set), so
the ranking and the answer cannot disagree.

Where the answer could not pool (a study-level objective, runs without val predictions, a study
made before val existed), the policies are ordered by the mean over seeds of their recorded val
values, shown without CI, P(best) or top set, and the ranking says so.
"""

from __future__ import annotations

import math

import numpy as np

from xrayssl.findings.model import MethodRanking, PolicyRank, StudyResults
from xrayssl.findings.policy_seeds import PolicySeeds, group_policies
from xrayssl.findings.ranking import Ranking

UNPOOLED = ("{method}: the policies are ordered by the mean over seeds of their recorded val "
            "values, without CIs, P(best) or top set (the answer could not pool its seeds' "
            "val predictions)")


def _pooled(method: str, ranking: Ranking, units: dict[str, PolicySeeds]) -> MethodRanking:
    # Widened seed deviations can carry a bootstrap bound past the metric's range (an AUROC
    # of 1.02); bounds are clipped to it, as the answer's test CIs are.
    low = -1.0 if ranking.metric == "kappa" else 0.0
    rows = [PolicyRank(policy=r.name, seeds=len(units[r.name].runs), value=r.value,
                       lo=float(np.clip(r.lo, low, 1.0)), hi=float(np.clip(r.hi, low, 1.0)),
                       vs_best=r.vs_best, p_holm=r.p_holm, p_best=r.p_best,
                       in_top_set=r.in_top_set) for r in ranking.rows]
    return MethodRanking(method, rows, pooled=True)


def _recorded(method: str, units: dict[str, PolicySeeds]) -> MethodRanking:
    def mean(unit: PolicySeeds) -> float:
        values = [run.value for run in unit.runs]
        return float(np.mean(values)) if all(map(math.isfinite, values)) else math.nan

    rows = [PolicyRank(policy=u.policy, seeds=len(u.runs), value=mean(u), lo=math.nan,
                       hi=math.nan) for u in units.values()]
    rows.sort(key=lambda r: -r.value if math.isfinite(r.value) else math.inf)
    return MethodRanking(method, rows, pooled=False)


def _answer_ranking(results: StudyResults, method: str) -> Ranking | None:
    """The ranking the answer selected ``method``'s policy from, on all val images."""
    if results.answer is None:
        return None
    for selected in results.answer.selected:
        if selected.method == method and selected.body_part is None:
            return selected.ranking
    return None


def policy_rankings(results: StudyResults) -> list[MethodRanking]:
    """Per method (in the order methods first appear), every policy of the ranked trials."""
    out = []
    for method in dict.fromkeys(t.method for t in results.trials):
        units = group_policies([t for t in results.trials if t.method == method])
        ranking = _answer_ranking(results, method)
        if ranking is not None and set(units) >= {r.name for r in ranking.rows}:
            out.append(_pooled(method, ranking, units))
        else:
            out.append(_recorded(method, units))
    return out


def unpooled_notes(rankings: list[MethodRanking]) -> list[str]:
    return [UNPOOLED.format(method=r.method) for r in rankings if not r.pooled]


def _interval(value: float, lo: float, hi: float) -> str:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return f"{value:.3f}"
    return f"{value:.3f} [{lo:.3f}, {hi:.3f}]"


def closing_lines(results: StudyResults) -> list[str]:
    """What a study's command prints last: the policy selected per method over its seeds,
    then the headline ("SSL did not beat raw pixels here ...")."""
    lines = selection_lines(results)
    if results.answer is not None:
        lines.append(results.answer.headline)
    return lines


def selection_lines(results: StudyResults) -> list[str]:
    """One line per method naming the policy selected on val over its seeds, with its test
    figures from the answer: "selected for simclr: crop, val AUROC 0.743 [0.694, 0.791]
    over 3 seeds; test 0.725 [0.682, 0.767]"."""
    metric = results.metric.upper() if results.metric == "auroc" else results.metric
    selected = {s.method: s for s in (results.answer.selected if results.answer else [])
                if s.body_part is None}
    lines = []
    for ranking in results.policy_rankings:
        best = ranking.best
        if not math.isfinite(best.value):
            lines.append(f"nothing selected for {ranking.method}: {metric} is undefined on val")
            continue
        seeds = f"{best.seeds} seed{'' if best.seeds == 1 else 's'}"
        line = (f"selected for {ranking.method}: {best.policy}, val {metric} "
                f"{_interval(best.value, best.lo, best.hi)} over {seeds}")
        chosen = selected.get(ranking.method)
        if chosen is not None and chosen.policy == best.policy:
            line += f"; test {_interval(chosen.test_value, chosen.test_lo, chosen.test_hi)}"
        else:
            line += "; not reported on test (no answer for this method)"
        lines.append(line)
    return lines


__all__ = ["MethodRanking", "PolicyRank", "closing_lines", "policy_rankings",
           "selection_lines", "unpooled_notes"]
