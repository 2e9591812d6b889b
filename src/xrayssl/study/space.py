"""Policy spaces: which augmentation policies a study compares.

A policy is a pair of spec strings, one per view. ``view2 is None`` means both views use the
same policy (the usual SimCLR/BYOL setup); a pairwise study sets them apart, as in Figure 5
of the SimCLR paper. Specs are composed with ``+`` (``crop+flip``); the empty policy is
``identity``.

Four kinds of space:

- ``list``: the policies written out.
- ``subsets``: every subset of ``ops`` on top of ``base`` (5 ops -> 32 policies).
- ``ablation``: ``base`` alone and with each op added (``direction: add``); the full policy
  and the full policy with each op removed (``remove``); or both.
- ``pairwise``: op A on view 1 and op B on view 2 (``asymmetric``), each on top of ``base``;
  swapping the views gives the same trial for symmetric losses (SimCLR, BYOL), so only the
  upper triangle with its diagonal is run: n (n + 1) / 2 policies. ``composed`` follows the
  paper's figure literally: A then B on view 1, ``base`` alone on view 2 (n * n policies).
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from xrayssl.augment.spec import IDENTITY, VIEW_SEPARATOR, PolicyPair, compose, read_spec
from xrayssl.errors import XraySSLError

__all__ = [
    "IDENTITY", "GridPoint", "PolicyPair", "ablation_space", "compose", "explicit_space",
    "grid", "op_names", "pairwise_cell", "pairwise_space", "subsets_space", "unique",
]


def op_names(spec: str) -> frozenset[str] | None:
    """Op names of a single-view spec ``crop+blur(sigma=0.1-2)`` -> {crop, blur}, as written;
    None for a two-view spec or one that does not read (so the per-op effect leaves it out)."""
    if VIEW_SEPARATOR.strip() in spec:
        return None
    try:
        return frozenset(call.written for call in read_spec(spec))
    except XraySSLError:
        return None


@dataclass(frozen=True, order=True)
class GridPoint:
    """One trial of a grid study: a method pretrained with a policy from one seed.

    ``epochs`` is set by successive halving (the rung's pretraining epochs); it joins the key
    and the folder name only when set, so studies without halving keep theirs."""

    method: str
    policy: PolicyPair
    seed: int
    epochs: int | None = None

    @property
    def key(self) -> str:
        """Stable identity of the trial: equal keys are the same experiment."""
        view2 = "=" if self.policy.view2 is None else self.policy.view2
        key = f"{self.method}|{self.policy.view1}|{view2}|{self.seed}"
        return key if self.epochs is None else f"{key}|e{self.epochs}"

    @property
    def slug(self) -> str:
        """Folder name of the trial: readable, filesystem-safe and unique through a hash."""
        readable = f"{self.method}_{self.policy.label}_s{self.seed}"
        if self.epochs is not None:
            readable += f"_e{self.epochs}"
        readable = re.sub(r"[^A-Za-z0-9+=._-]+", "-", readable.replace(" | ", "__"))[:80]
        digest = hashlib.sha1(self.key.encode("utf-8")).hexdigest()[:8]
        return f"{readable}_{digest}"

    def as_attrs(self) -> dict[str, str | int | None]:
        attrs: dict[str, str | int | None] = {
            "method": self.method,
            "view1": self.policy.view1,
            "view2": self.policy.view2,
            "seed": self.seed,
        }
        if self.epochs is not None:
            attrs["epochs"] = self.epochs
        return attrs

    @classmethod
    def from_attrs(cls, attrs: dict[str, object]) -> GridPoint:
        view2 = attrs.get("view2")
        seed, epochs = attrs["seed"], attrs.get("epochs")
        if not isinstance(seed, int | str):
            raise TypeError(f"seed attribute must be an int, got {seed!r}")
        if epochs is not None and not isinstance(epochs, int | str):
            raise TypeError(f"epochs attribute must be an int, got {epochs!r}")
        return cls(
            method=str(attrs["method"]),
            policy=PolicyPair(str(attrs["view1"]), None if view2 is None else str(view2)),
            seed=int(seed),
            epochs=None if epochs is None else int(epochs),
        )


def unique(policies: Sequence[PolicyPair]) -> list[PolicyPair]:
    """Drop repeats, keep the first occurrence's order."""
    seen: set[PolicyPair] = set()
    out: list[PolicyPair] = []
    for policy in policies:
        if policy not in seen:
            seen.add(policy)
            out.append(policy)
    return out


def explicit_space(specs: Sequence[str]) -> list[PolicyPair]:
    """Specs as written; ``"A | B"`` gives view 1 policy A and view 2 policy B."""
    return unique([PolicyPair.parse(spec) for spec in specs])


def subsets_space(ops: Sequence[str], base: str = "") -> list[PolicyPair]:
    """Every subset of ``ops`` on top of ``base``: 2 ** len(ops) policies, smallest first."""
    policies = [
        PolicyPair(compose(base, *chosen))
        for size in range(len(ops) + 1)
        for chosen in itertools.combinations(ops, size)
    ]
    return unique(policies)


def ablation_space(ops: Sequence[str], base: str = "", direction: str = "add") -> list[PolicyPair]:
    """One op at a time: added to ``base`` and/or removed from ``base`` plus every op."""
    if direction not in ("add", "remove", "both"):
        raise ValueError(f"direction must be add, remove or both, not {direction!r}")
    policies: list[PolicyPair] = []
    if direction in ("add", "both"):
        policies.append(PolicyPair(compose(base)))
        policies += [PolicyPair(compose(base, op)) for op in ops]
    if direction in ("remove", "both"):
        policies.append(PolicyPair(compose(base, *ops)))
        policies += [
            PolicyPair(compose(base, *(other for other in ops if other != op))) for op in ops
        ]
    return unique(policies)


def pairwise_space(
    ops: Sequence[str], base: str = "", mode: str = "asymmetric"
) -> list[PolicyPair]:
    """The SimCLR Figure 5 grid over ``ops`` (see the module docstring for the two modes)."""
    if mode == "asymmetric":
        policies = []
        for i, op_a in enumerate(ops):
            for op_b in ops[i:]:
                # The diagonal keeps view 2 explicit (same spec twice) so heatmaps find it.
                policies.append(PolicyPair(compose(base, op_a), compose(base, op_b)))
        return unique(policies)
    if mode == "composed":
        return unique([
            PolicyPair(compose(base, op_a, op_b) if op_a != op_b else compose(base, op_a),
                       compose(base))
            for op_a in ops
            for op_b in ops
        ])
    raise ValueError(f"pairwise mode must be asymmetric or composed, not {mode!r}")


def pairwise_cell(policy: PolicyPair, ops: Sequence[str], base: str = "") -> tuple[str, str] | None:
    """Which (row op, column op) of the pairwise heatmap a policy fills, if any."""
    try:
        base_ops = {call.text for call in read_spec(compose(base))}

        def extra(spec: str) -> list[str]:
            return [call.text for call in read_spec(spec) if call.text not in base_ops]

        first = extra(policy.view1)
        second = extra(policy.view2) if policy.view2 is not None else None
    except XraySSLError:  # a spec that does not read fills no cell
        return None
    if second is None:
        if len(first) == 1 and first[0] in ops:
            return first[0], first[0]
        if len(first) == 2 and all(op in ops for op in first):
            return first[0], first[1]
        return None
    if len(first) == 1 and len(second) == 1 and first[0] in ops and second[0] in ops:
        return first[0], second[0]
    # composed mode: the ops sit on view 1, view 2 is the base alone
    if not second and len(first) == 1 and first[0] in ops:
        return first[0], first[0]
    if not second and len(first) == 2 and all(op in ops for op in first):
        return first[0], first[1]
    return None


def grid(
    policies: Sequence[PolicyPair], methods: Sequence[str], seeds: Sequence[int]
) -> list[GridPoint]:
    """Every method x policy x seed, in that nesting order (all methods see policy 1 first)."""
    return [
        GridPoint(method=method, policy=policy, seed=seed)
        for seed in seeds
        for policy in policies
        for method in methods
    ]
