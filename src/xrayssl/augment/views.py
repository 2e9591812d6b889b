"""Two views of every image for self-supervised pairs.

Symmetric (SimCLR): both views from one policy, drawn independently. Asymmetric (BYOL's
paper): a separate policy per view, e.g. blur mostly in view one and solarise-like ops in two.
"""

from __future__ import annotations

import torch
from torch import nn

from xrayssl.augment.spec import Policy, PolicyPair, parse_policy
from xrayssl.config.base import EMPTY_POLICY
from xrayssl.errors import XraySSLError


def split_views(spec: str) -> tuple[str, str | None]:
    """``"A | B"`` -> ("A", "B"); ``"A"`` -> ("A", None). Each part is checked by the parser;
    an empty part is an error here (a command line meant something by it)."""
    parts = PolicyPair.split(spec)
    if not all(parts):
        raise XraySSLError(f"policy {spec!r}: {EMPTY_POLICY}")
    return parts[0], parts[1] if len(parts) == 2 else None


class TwoViews(nn.Module):
    """``views(x, generator) -> (v1, v2)``, each shaped like ``x: (B, C, H, W)``."""

    def __init__(self, policy_a: Policy, policy_b: Policy | None = None) -> None:
        super().__init__()
        self.policy_a = policy_a
        self.policy_b = policy_b

    @property
    def symmetric(self) -> bool:
        return self.policy_b is None

    @property
    def spec(self) -> str:
        """One policy's spec when symmetric, ``"A | B"`` when asymmetric."""
        second = None if self.policy_b is None else self.policy_b.spec
        return PolicyPair(self.policy_a.spec, second).label

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        second = self.policy_a if self.policy_b is None else self.policy_b
        return self.policy_a(x, generator), second(x, generator)


def parse_views(spec: str) -> TwoViews:
    """``"A"`` -> symmetric views of policy A; ``"A | B"`` -> view one from A, view two from B."""
    return views_of(PolicyPair(*split_views(spec)))


def views_of(pair: PolicyPair) -> TwoViews:
    """The two views a policy pair names (one policy object when both views share it)."""
    second = None if pair.view2 is None else parse_policy(pair.view2)
    return TwoViews(parse_policy(pair.view1), second)
