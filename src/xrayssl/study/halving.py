"""Successive halving over policies: which policies of a method pretrain at which rung.

Rung 0 is every policy of the space at ``rungs[0]`` epochs with the study's seeds. When every
trial of a method's rung has ended (complete, pruned, or failed for good), its policies are
ranked by their val objective (the mean over the seeds that completed; ties go to the earlier
policy of the space) and the best ``max(min_keep, ceil(keep * n))`` of the ``n`` go on to the
next rung, where they pretrain again from scratch for that rung's epochs; the last rung runs
``final_seeds``. With ``keep_base`` the base policy goes on as well, outside that count, so the
finalists can be compared with it on the same budget.

The walk is a pure function of what the storage says about each key (``KeyState``), so every
worker, ``study plan`` and the progress line reach the same rungs from the same trials.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from xrayssl.config.study import HalvingSettings, StudyConfig
from xrayssl.study.space import GridPoint, PolicyPair


@dataclass(frozen=True)
class KeyState:
    """One key as stored: whether its trials have ended, and its objective when complete."""

    ended: bool
    value: float | None = None


NOT_STARTED = KeyState(ended=False)


@dataclass
class Rung:
    """One rung of one method: its policies (empty while undecided) and what they scored."""

    index: int
    epochs: int
    seeds: tuple[int, ...]
    planned: int  # policies at this rung: known once decided, else by the rule
    policies: tuple[PolicyPair, ...] = ()
    values: dict[PolicyPair, float | None] = field(default_factory=dict)
    ended: bool = False
    promoted: tuple[PolicyPair, ...] = ()  # the policies of the next rung, once decided

    @property
    def decided(self) -> bool:
        return bool(self.policies)

    @property
    def planned_trials(self) -> int:
        return self.planned * len(self.seeds)


@dataclass
class MethodRungs:
    """Every rung of one method, walked as far as the stored trials allow."""

    method: str
    rungs: list[Rung]

    @property
    def current(self) -> Rung:
        """The rung the method is on: the last decided one."""
        return [rung for rung in self.rungs if rung.decided][-1]

    def points(self) -> list[GridPoint]:
        """The trials wanted so far: every policy x seed of every decided rung."""
        return [GridPoint(self.method, policy, seed, rung.epochs)
                for rung in self.rungs if rung.decided
                for seed in rung.seeds for policy in rung.policies]


def rung_seeds(halving: HalvingSettings, rung: int, seeds: Sequence[int]) -> tuple[int, ...]:
    """The study's seeds below the last rung, ``final_seeds`` on it."""
    return tuple(halving.final_seeds if rung == len(halving.rungs) - 1 else seeds)


def kept(halving: HalvingSettings, n: int) -> int:
    """How many of ``n`` competing policies go on: max(min_keep, ceil(keep * n)), at most n."""
    return min(n, max(halving.min_keep, math.ceil(halving.keep * n - 1e-9)))


def reference_policy(policies: Sequence[PolicyPair], base: str) -> PolicyPair | None:
    """The policy the others are compared with: the base alone (crop-only in an ablation), or
    ``identity`` when the space has no base; None when the space holds neither."""
    from xrayssl.study.space import IDENTITY, compose

    for spec in (compose(base), IDENTITY):
        for policy in policies:
            if policy.view1 == spec and policy.view2 in (None, spec):
                return policy
    return None


def survivors(halving: HalvingSettings, policies: Sequence[PolicyPair],
              values: Mapping[PolicyPair, float | None],
              reference: PolicyPair | None) -> tuple[PolicyPair, ...]:
    """The policies that go on, in space order: the best by value (earlier policy on a tie),
    plus the reference when ``keep_base``. A policy without a value never goes on."""
    carried = reference if halving.keep_base and reference in policies else None
    competing = [p for p in policies if p != carried]
    order = {policy: i for i, policy in enumerate(policies)}
    scored = {p: v for p in competing if (v := values.get(p)) is not None and math.isfinite(v)}
    best = sorted(scored, key=lambda p: (-scored[p], order[p]))
    chosen = set(best[:kept(halving, len(competing))])
    if carried is not None:
        chosen.add(carried)
    return tuple(p for p in policies if p in chosen)


def walk(halving: HalvingSettings, method: str, policies: Sequence[PolicyPair],
         seeds: Sequence[int], reference: PolicyPair | None,
         state: Callable[[GridPoint], KeyState]) -> MethodRungs:
    """Decide the rungs of ``method`` from the stored state of each key."""
    carried = halving.keep_base and reference in policies
    rungs: list[Rung] = []
    current: tuple[PolicyPair, ...] = tuple(policies)
    for index, epochs in enumerate(halving.rungs):
        seeds_here = rung_seeds(halving, index, seeds)
        if not current:  # not decided yet: the rule's count from the rung before
            planned = kept(halving, rungs[-1].planned - int(carried)) + int(carried)
            rungs.append(Rung(index, epochs, seeds_here, planned))
            continue
        rung = Rung(index, epochs, seeds_here, len(current), policies=current)
        ended = True
        for policy in current:
            states = [state(GridPoint(method, policy, seed, epochs)) for seed in seeds_here]
            ended = ended and all(s.ended for s in states)
            values = [s.value for s in states if s.value is not None]
            rung.values[policy] = sum(values) / len(values) if values else None
        rung.ended = ended
        rungs.append(rung)
        current = ()
        if ended and index < len(halving.rungs) - 1:
            rung.promoted = survivors(halving, rung.policies, rung.values, reference)
            current = rung.promoted
    return MethodRungs(method, rungs)


def study_rungs(config: StudyConfig, policies: Sequence[PolicyPair],
                state: Callable[[GridPoint], KeyState]) -> list[MethodRungs]:
    """The rungs of every method of a halving study."""
    assert config.halving is not None
    reference = reference_policy(policies, config.space.base)
    return [walk(config.halving, method, policies, config.seeds, reference, state)
            for method in config.methods]


def rung_of(config: StudyConfig, point: GridPoint) -> int | None:
    """The rung a point's epochs belong to; None without halving or off the rungs."""
    if config.halving is None or point.epochs is None:
        return None
    rungs = config.halving.rungs
    return rungs.index(point.epochs) if point.epochs in rungs else None
