"""Op parameters as the spec parser sees them, and random draws from one generator.

Every op declares its parameters as a tuple of :class:`Param`. The parser checks names,
types and bounds against them; ``xrayssl augment list`` prints them; the canonical spec
string leaves out every parameter still at its default.

All randomness comes from the generator passed to the policy. Parameters are drawn on the
generator's device (normally the CPU, a few numbers per sample) and moved to the images'
device; whole noise images are drawn on the images' device from a generator seeded by one
draw from the passed generator, so a seeded run repeats exactly on CPU and on CUDA.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch

Number = float | int
Range = tuple[float, float]
IntRange = tuple[int, int]
Value = float | int | bool | str | Range | IntRange
Kind = Literal["float", "int", "bool", "choice", "float_range", "int_range"]


@dataclass(frozen=True)
class Param:
    """One keyword an op accepts in a spec string.

    ``float_range``/``int_range`` accept ``a-b`` (uniform per sample) or one number (fixed).
    """

    name: str
    kind: Kind
    default: Value
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for ``xrayssl augment list``: name, kind, default, bounds."""
        bounds = ""
        if self.choices:
            bounds = " one of " + "|".join(self.choices)
        elif self.low is not None or self.high is not None:
            low = "-inf" if self.low is None else format_number(self.low)
            high = "inf" if self.high is None else format_number(self.high)
            bounds = f" in [{low}, {high}]"
        return f"{self.name}={format_value(self.default)} ({self.kind}{bounds}): {self.help}"


def probability(default: float) -> Param:
    return Param("p", "float", default, "probability that a sample is transformed", 0.0, 1.0)


def format_number(value: Number) -> str:
    """Shortest text that reads back to the same number: 1.0 -> '1', 0.30000000000000004 stays."""
    if isinstance(value, bool):
        raise TypeError("a bool is not a number here")
    if isinstance(value, int):
        return str(value)
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def format_value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, tuple):
        low, high = value
        return format_number(low) if low == high else f"{format_number(low)}-{format_number(high)}"
    return format_number(value)


def op_text(name: str, values: Sequence[tuple[str, Value]]) -> str:
    """The one printer of an op in a spec: ``name`` or ``name(k=v,...)`` in the order given."""
    args = ",".join(f"{key}={format_value(value)}" for key, value in values)
    return f"{name}({args})" if args else name


def as_range(value: Number | tuple[Number, Number]) -> Range:
    if isinstance(value, tuple):
        return float(value[0]), float(value[1])
    return float(value), float(value)


def as_int_range(value: int | tuple[int, int]) -> IntRange:
    if isinstance(value, tuple):
        return int(value[0]), int(value[1])
    return int(value), int(value)


def generator_device(generator: torch.Generator | None) -> torch.device:
    return torch.device("cpu") if generator is None else generator.device


def uniform(
    n: int, bounds: Range, generator: torch.Generator | None, device: torch.device
) -> torch.Tensor:
    """(n,) float32 uniform in [low, high], drawn from ``generator`` and moved to ``device``."""
    low, high = bounds
    draw = torch.rand(n, generator=generator, device=generator_device(generator))
    return (low + (high - low) * draw).to(device, non_blocking=True)


def integers(
    n: int, bounds: IntRange, generator: torch.Generator | None, device: torch.device
) -> torch.Tensor:
    """(n,) int64 uniform in [low, high] inclusive."""
    low, high = bounds
    draw = torch.randint(low, high + 1, (n,), generator=generator,
                         device=generator_device(generator))
    return draw.to(device, non_blocking=True)


def coin(
    n: int, p: float, generator: torch.Generator | None, device: torch.device
) -> torch.Tensor:
    """(n,) bool, True with probability p."""
    draw = torch.rand(n, generator=generator, device=generator_device(generator))
    return (draw < p).to(device, non_blocking=True)


def device_generator(generator: torch.Generator | None, device: torch.device) -> torch.Generator:
    """A generator on ``device`` seeded by one draw from ``generator``: big noise tensors are
    drawn where the images live, yet still follow the caller's seed."""
    seed = torch.randint(0, 2**62, (1,), generator=generator,
                         device=generator_device(generator)).item()
    local = torch.Generator(device=device)
    local.manual_seed(int(seed))
    return local
