"""Every rung of a halving study, read back from its run folders: the table and Kendall's tau.

Per method, each policy's val objective at each rung (the mean over that rung's seeds) and
whether it went on to the next rung, decided by the same rule the runner applies
(:func:`xrayssl.study.halving.survivors`). Between each pair of rungs, Kendall's tau of the
two rankings over the policies measured at both says how well the shorter budget predicts
the longer one. With ``keep < 1`` a later rung holds only the earlier rung's survivors, a
range the selection itself narrowed, so tau there is read on the best policies alone;
``keep: 1`` runs every policy at every rung and measures it over all of them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Protocol, TypeVar

from xrayssl.config.base import validate
from xrayssl.config.study import HalvingSettings, SpaceSettings
from xrayssl.study.halving import reference_policy, survivors
from xrayssl.study.space import PolicyPair

MIN_COMMON = 3  # fewer common policies than this: no tau is shown


def epochs_label(epochs: int) -> str:
    """``1 epoch``, ``20 epochs``: a rung's column name."""
    return f"{epochs} epoch{'s' if epochs != 1 else ''}"


class RungRun(Protocol):
    """What a rung table reads of a run (``results.RunResult`` has it)."""

    method: str
    view1: str
    view2: str | None
    seed: int | None
    value: float
    rung: int | None
    epochs: int | None


R = TypeVar("R", bound=RungRun)


@dataclass
class RungCell:
    """One policy at one rung: its val objective (mean over seeds) and whether it went on."""

    value: float
    seeds: int
    promoted: bool | None  # None: the next rung is not decided (or this is the last rung)


@dataclass
class RungTau:
    """Kendall's tau between the rankings of two rungs over the policies measured at both."""

    method: str
    epochs_a: int
    epochs_b: int
    n: int
    tau: float | None  # None: fewer than MIN_COMMON common policies, or tied values
    p: float | None

    @property
    def sentence(self) -> str:
        """``simclr: the 5-epoch ranking predicts the 20-epoch one: Kendall's tau 0.60 over 6
        policies (p = 0.09)``."""
        head = f"{self.method}: the {self.epochs_a}-epoch ranking"
        tail = f"the {self.epochs_b}-epoch one"
        if self.n < MIN_COMMON:
            return (f"{head} and {tail}: too few to compare ({self.n} policies measured at "
                    f"both; Kendall's tau needs {MIN_COMMON})")
        if self.tau is None:
            return f"{head} and {tail}: Kendall's tau undefined (tied values) over {self.n}"
        verb = ("predicts" if self.tau >= 0.5 else
                "weakly predicts" if self.tau > 0 else "does not predict")
        p = "" if self.p is None or not math.isfinite(self.p) else f" (p = {self.p:.2g})"
        return f"{head} {verb} {tail}: Kendall's tau {self.tau:.2f} over {self.n} policies{p}"


@dataclass
class MethodRungTable:
    """Policy x rung for one method: the cells, the epochs of each rung, tau between rungs."""

    method: str
    epochs: dict[int, int]  # rung -> its epochs, for the rungs with a finished trial
    policies: list[PolicyPair]  # in the space's order
    cells: dict[PolicyPair, dict[int, RungCell]] = field(default_factory=dict)
    taus: list[RungTau] = field(default_factory=list)

    @property
    def last_rung(self) -> int:
        return max(self.epochs)

    @property
    def first_last(self) -> RungTau | None:
        """Tau between the first and the last rung reached."""
        first, last = min(self.epochs), self.last_rung
        return next((t for t in self.taus if (t.epochs_a, t.epochs_b) ==
                     (self.epochs[first], self.epochs[last])), None)


def kendall(method: str, epochs_a: int, epochs_b: int,
            a: dict[PolicyPair, float], b: dict[PolicyPair, float]) -> RungTau:
    from scipy.stats import kendalltau

    common = [p for p in a if p in b]
    if len(common) < MIN_COMMON:
        return RungTau(method, epochs_a, epochs_b, len(common), None, None)
    result = kendalltau([a[p] for p in common], [b[p] for p in common])
    tau, p = float(result.statistic), float(result.pvalue)
    if not math.isfinite(tau):
        return RungTau(method, epochs_a, epochs_b, len(common), None, None)
    return RungTau(method, epochs_a, epochs_b, len(common), tau, p)


def rung_tables(runs: Sequence[RungRun], halving: HalvingSettings | None,
                space: Sequence[PolicyPair], base: str) -> list[MethodRungTable]:
    """One table per method with trials at a rung; ``space`` gives the policies' order (and the
    ties of the promotion rule), policies outside it follow in the order first seen."""
    tables: list[MethodRungTable] = []
    methods = list(dict.fromkeys(r.method for r in runs if r.rung is not None))
    for method in methods:
        mine = [r for r in runs if r.method == method and r.rung is not None]
        seen = [PolicyPair(r.view1, r.view2) for r in mine]
        order = list(dict.fromkeys([*[p for p in space if p in seen], *seen]))
        values: dict[int, dict[PolicyPair, list[float]]] = {}
        epochs: dict[int, int] = {}
        for run in mine:
            assert run.rung is not None
            epochs[run.rung] = run.epochs if run.epochs is not None else -1
            scores = values.setdefault(run.rung, {}).setdefault(PolicyPair(run.view1, run.view2),
                                                                [])
            if math.isfinite(run.value):
                scores.append(run.value)
        means = {rung: {p: sum(v) / len(v) for p, v in by.items() if v}
                 for rung, by in values.items()}
        table = MethodRungTable(method, dict(sorted(epochs.items())), order)
        reference = reference_policy(order, base)
        for rung in sorted(values):
            at = [p for p in order if p in values[rung]]
            went_on: set[PolicyPair] | None = None
            decided = rung < table.last_rung and halving is not None
            if decided and halving is not None:
                went_on = set(survivors(halving, at, dict(means[rung]), reference))
            for policy in at:
                mean = means[rung].get(policy, math.nan)
                table.cells.setdefault(policy, {})[rung] = RungCell(
                    mean, len(values[rung][policy]),
                    None if went_on is None else policy in went_on)
        for a, b in combinations(sorted(means), 2):
            table.taus.append(kendall(method, epochs[a], epochs[b], means[a], means[b]))
        tables.append(table)
    return tables


def study_rung_tables(trials: Sequence[RungRun], settings: Mapping[str, Any], where: str,
                      notes: list[str]) -> list[MethodRungTable]:
    """Every rung's table of a study read back, with the halving settings and the space's policy
    order of its study.yaml (``settings``; ``where`` names it in errors)."""
    if not any(t.rung is not None for t in trials):
        return []
    halving = None
    if settings.get("halving"):
        halving = validate(HalvingSettings, settings["halving"], f"{where} halving")
    else:
        notes.append("the trials carry halving rungs but study.yaml has no halving settings: "
                     "which policies went on is not shown")
    space: list[PolicyPair] = []
    if settings.get("space"):
        from xrayssl.study.grid import space_policies

        try:
            space = space_policies(SpaceSettings.model_validate(settings["space"]))
        except ValueError:  # an unreadable space only loses the order; the rungs still read
            notes.append(f"{where}: the space does not read; rung tables in folder order")
    base = str((settings.get("space") or {}).get("base", ""))
    return rung_tables(trials, halving, space, base)


def last_rungs(trials: list[R], notes: list[str]) -> list[R]:
    """The trials the ranking reads: each halving method's last rung reached (a finished study:
    the final rung); a method without rungs keeps all of its trials."""
    last: dict[str, R] = {}
    for trial in trials:
        if trial.rung is not None and (trial.method not in last or
                                       trial.rung > (last[trial.method].rung or 0)):
            last[trial.method] = trial
    if not last:
        return trials
    kept = [t for t in trials if t.method not in last or t.rung == last[t.method].rung]
    earlier = len(trials) - len(kept)
    notes.append(f"successive halving: the ranking reads each method's last rung reached "
                 f"({', '.join(f'{m} at {t.epochs} epochs' for m, t in last.items())}); "
                 f"{earlier} trial(s) of earlier rungs are in the rungs table only")
    return kept
