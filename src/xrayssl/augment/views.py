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
EMPTY_POLICY = ("the augmentation policy is empty; write 'identity' for no augmentation, or ops "
                "like 'crop+flip'")


def split_views(spec: str) -> tuple[str, str | None]:
    """``"A | B"`` -> ("A", "B"); ``"A"`` -> ("A", None). Each part is checked by the parser."""
    parts = [part.strip() for part in spec.split("|")]
    if len(parts) > 2:
        raise XraySSLError(f"two-view spec {spec!r} has {len(parts)} parts; give 'A' or 'A | B'")
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
    first, second = split_views(spec)
    return TwoViews(parse_policy(first), None if second is None else parse_policy(second))
