"""Two views of every image for self-supervised pairs.

Symmetric (SimCLR): both views from one policy, drawn independently. Asymmetric (BYOL's
paper): a separate policy per view, e.g. blur mostly in view one and solarise-like ops in two.
"""

from __future__ import annotations

import torch
from torch import nn

from xrayssl.augment.spec import Policy, parse_policy
from xrayssl.errors import XraySSLError

VIEW_SEPARATOR = " | "


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
        if self.policy_b is None:
            return self.policy_a.spec
        return f"{self.policy_a.spec}{VIEW_SEPARATOR}{self.policy_b.spec}"

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        second = self.policy_a if self.policy_b is None else self.policy_b
        return self.policy_a(x, generator), second(x, generator)


def parse_views(spec: str) -> TwoViews:
    """``"A"`` -> symmetric views of policy A; ``"A | B"`` -> view one from A, view two from B."""
    parts = spec.split("|")
    if len(parts) > 2:
        raise XraySSLError(f"two-view spec {spec!r} has {len(parts)} parts; give 'A' or 'A | B'")
    policies = [parse_policy(part.strip()) for part in parts]
    return TwoViews(policies[0], policies[1] if len(policies) == 2 else None)
