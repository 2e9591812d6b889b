"""The policy spec language: one string names a whole augmentation policy.

Grammar (spaces allowed between tokens)::

    policy := "" | "identity" | op ("+" op)*
    op     := NAME [ "(" [ arg ("," arg)* ] ")" ]
    arg    := NAME "=" value
    value  := NUMBER | NUMBER "-" NUMBER | WORD          # 0.3-1 is a uniform range

Example: ``crop(scale=0.3-1)+flip+rotation(deg=15)+checkerboard_mask(grid=4-8,p=0.5)``.
Ops run left to right. ``Policy.spec`` is the canonical form: full op names, only the
parameters that differ from their defaults, numbers in their shortest exact form, so
``parse_policy(policy.spec)`` rebuilds the same policy.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from xrayssl.augment.base import AugmentOp, GeometricOp, apply_geometric
from xrayssl.augment.ops import OPS
from xrayssl.augment.params import Param, Value
from xrayssl.errors import XraySSLError

# The one table of short op names: a policy may be written with them, and tables and sheets
# show them (``SHORT_NAMES``).
ALIASES = {"crop": "random_resized_crop", "blur": "gaussian_blur", "erasing": "random_erasing",
           "noise": "gaussian_noise", "contrast": "brightness_contrast"}
SHORT_NAMES = {op: short for short, op in ALIASES.items()}
IDENTITY = "identity"
VIEW_SEPARATOR = " | "
# On the CPU a batch runs in chunks of this many samples: each op's intermediates then stay in
# the CPU caches instead of streaming (and page-faulting) through memory; several times faster
# for 128 px batches of 256. On CUDA the whole batch runs at once.
CPU_CHUNK = 64

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_VALUE = re.compile(rf"(?P<low>{_NUMBER})(?:\s*-\s*(?P<high>{_NUMBER}))?(?![A-Za-z0-9_.])")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Policy(nn.Module):
    """A sequence of ops applied left to right to a batch ``(B, C, H, W)`` in [0, 1].

    Runs of consecutive geometric ops are resampled once through their composed affine map.
    The output has the input's shape, dtype and device and is clamped to [0, 1].
    """

    def __init__(self, ops: Sequence[AugmentOp] = ()) -> None:
        super().__init__()
        self.ops = nn.ModuleList(ops)

    @property
    def spec(self) -> str:
        return "+".join(op.spec for op in self.op_list()) if len(self.ops) else IDENTITY

    def op_list(self) -> list[AugmentOp]:
        return [op for op in self.ops if isinstance(op, AugmentOp)]

    def __len__(self) -> int:
        return len(self.ops)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if x.dim() != 4 or not x.is_floating_point():
            raise ValueError(
                f"a policy takes a float batch (B, C, H, W); got {tuple(x.shape)} {x.dtype}"
            )
        if x.device.type == "cpu" and x.shape[0] > CPU_CHUNK:
            return torch.cat([self.run(chunk, generator) for chunk in torch.split(x, CPU_CHUNK)])
        return self.run(x, generator)

    def run(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Apply the ops to the whole of ``x``, geometric runs fused; clamp to [0, 1]."""
        given = x
        ops = self.op_list()
        start = 0
        while start < len(ops):
            stop = start
            while stop < len(ops) and isinstance(ops[stop], GeometricOp):
                stop += 1
            if stop > start:
                geometric = [op for op in ops[start:stop] if isinstance(op, GeometricOp)]
                x = apply_geometric(geometric, x, generator)
                start = stop
            else:
                x = ops[start](x, generator)
                start += 1
        return x.clamp(0.0, 1.0) if x is given else x.clamp_(0.0, 1.0)

    def extra_repr(self) -> str:
        return f"spec={self.spec!r}"


def compose(*parts: str) -> str:
    """Join spec fragments with ``+``, dropping empty and identity parts."""
    kept = [p.strip() for p in parts if p.strip() and p.strip() != IDENTITY]
    return "+".join(kept) if kept else IDENTITY


@dataclass(frozen=True, order=True)
class PolicyPair:
    """The one form of a two-view policy: the spec of each view. ``view2 is None``: both views
    share ``view1`` (SimCLR's setup); written ``"A"`` or ``"A | B"`` (``parse`` / ``label``)."""

    view1: str
    view2: str | None = None

    @staticmethod
    def split(text: str) -> list[str]:
        """The one or two view specs of ``"A"`` / ``"A | B"``, stripped."""
        parts = [part.strip() for part in text.split(VIEW_SEPARATOR.strip())]
        if len(parts) > 2:
            raise XraySSLError(
                f"two-view spec {text!r} has {len(parts)} parts; give 'A' or 'A | B'"
            )
        return parts

    @classmethod
    def parse(cls, text: str) -> PolicyPair:
        """``"A"`` -> one policy for both views; ``"A | B"`` -> A on view one, B on view two;
        an empty view is the identity."""
        views = [compose(part) for part in cls.split(text)]
        return cls(views[0], views[1] if len(views) == 2 else None)

    @property
    def label(self) -> str:
        """How tables name the policy: ``crop+flip`` or ``crop+flip | crop+blur``."""
        return self.view1 if self.view2 is None else f"{self.view1}{VIEW_SEPARATOR}{self.view2}"

    @property
    def symmetric(self) -> bool:
        return self.view2 is None


@dataclass(frozen=True)
class OpCall:
    """One op of a spec as read: the name as written, its registered name, its arguments
    (checked against the op's params) and its text in the spec."""

    written: str
    name: str
    kwargs: tuple[tuple[str, Any], ...]  # values as Param kinds give them
    text: str

    def build(self) -> AugmentOp:
        return OPS.get(self.name)(**dict(self.kwargs))


@dataclass
class _Parser:
    text: str
    pos: int = 0

    def fail(self, message: str, at: int | None = None) -> XraySSLError:
        at = self.pos if at is None else at
        return XraySSLError(
            f"cannot read augmentation policy: {message}\n  {self.text}\n  {' ' * at}^"
        )

    def skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self.skip_spaces()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char: str, what: str) -> None:
        if self.peek() != char:
            found = repr(self.peek()) if self.peek() else "the end"
            raise self.fail(f"expected {char!r} {what}, found {found}")
        self.pos += 1

    def name(self, what: str) -> tuple[str, int]:
        self.skip_spaces()
        match = _NAME.match(self.text, self.pos)
        if not match:
            found = repr(self.peek()) if self.peek() else "the end"
            raise self.fail(f"expected {what}, found {found}")
        self.pos = match.end()
        return match.group(), match.start()

    def calls(self) -> tuple[OpCall, ...]:
        if self.text.strip() in ("", IDENTITY):
            return ()
        calls = [self.op()]
        while self.peek() == "+":
            self.pos += 1
            calls.append(self.op())
        if self.peek():
            raise self.fail(f"expected '+' or the end, found {self.peek()!r}")
        return tuple(calls)

    def op(self) -> OpCall:
        self.skip_spaces()
        written, start = self.name("an op name")
        name = ALIASES.get(written, written)
        if name == IDENTITY:
            raise self.fail("'identity' stands alone; leave it out of a composed policy", start)
        if name not in OPS:
            raise self.fail(unknown_op_message(name), start)
        cls = OPS.get(name)
        kwargs: dict[str, Any] = {}  # checked against cls.params, then by cls itself
        if self.peek() == "(":
            self.pos += 1
            if self.peek() != ")":
                self.arg(cls, kwargs)
                while self.peek() == ",":
                    self.pos += 1
                    self.arg(cls, kwargs)
            self.expect(")", f"to close {written}(")
        call = OpCall(written, name, tuple(kwargs.items()), self.text[start:self.pos].strip())
        try:
            call.build()  # the op's own checks (e.g. flip with no axis) fail here, located
        except ValueError as err:
            raise self.fail(f"{name}: {err}", start) from None
        return call

    def arg(self, cls: type[AugmentOp], kwargs: dict[str, Any]) -> None:
        key, start = self.name("a parameter name")
        params = {param.name: param for param in cls.params}
        if key not in params:
            close = difflib.get_close_matches(key, list(params), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise self.fail(f"{cls.name} has no parameter {key!r}.{hint} "
                            f"Its parameters: {', '.join(params)}", start)
        if key in kwargs:
            raise self.fail(f"{key} is given twice", start)
        self.expect("=", f"after {key}")
        self.skip_spaces()
        kwargs[key] = self.value(params[key])

    def value(self, param: Param) -> Value:
        start = self.pos
        if param.kind in ("bool", "choice"):
            match = _WORD.match(self.text, self.pos)
            word = match.group() if match else ""
            if param.kind == "bool":
                lowered = word.lower()
                if lowered not in ("true", "false"):
                    raise self.fail(f"{param.name} takes true or false", start)
                self.pos += len(word)
                return lowered == "true"
            if word not in param.choices:
                raise self.fail(f"{param.name} takes one of {'|'.join(param.choices)}", start)
            self.pos += len(word)
            return word
        match = _VALUE.match(self.text, self.pos)
        if not match:
            raise self.fail(f"{param.name} takes a number"
                            + (" or a range like 0.3-1" if "range" in param.kind else ""), start)
        self.pos = match.end()
        low_text, high_text = match.group("low"), match.group("high")
        if high_text is not None and "range" not in param.kind:
            raise self.fail(f"{param.name} takes one number, not a range", start)
        integer = param.kind in ("int", "int_range")
        numbers = [self.number(text, integer, param, start) for text in (low_text, high_text)
                   if text is not None]
        if len(numbers) == 2 and numbers[0] > numbers[1]:
            raise self.fail(f"{param.name}: range low end {numbers[0]} is above high end "
                            f"{numbers[1]}", start)
        if "range" in param.kind:
            return (numbers[0], numbers[-1])
        return numbers[0]

    def number(self, text: str, integer: bool, param: Param, start: int) -> float | int:
        if integer:
            if not re.fullmatch(r"[+-]?\d+", text):
                raise self.fail(f"{param.name} takes whole numbers, got {text}", start)
            number: float | int = int(text)
        else:
            number = float(text)
        if (param.low is not None and number < param.low) or (
            param.high is not None and number > param.high
        ):
            raise self.fail(f"{param.name}={text} is outside [{param.low}, {param.high}]", start)
        return number


def unknown_op_message(name: str) -> str:
    """Registry's message with the aliases added to the suggestions."""
    names = OPS.names() + sorted(ALIASES)
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return (f"unknown augmentation op {name!r}.{hint} Known: {', '.join(OPS.names())} "
            f"(aliases: {', '.join(f'{a}={t}' for a, t in sorted(ALIASES.items()))})")


@functools.lru_cache(maxsize=1024)
def _read(spec: str) -> tuple[OpCall, ...]:
    return _Parser(spec).calls()


def read_spec(spec: str) -> tuple[OpCall, ...]:
    """The ops a spec names, read and checked but not built; errors point at the character.

    The one reader of the grammar: ``parse_policy`` builds from it and the study and the
    report take op names from it. A string is read once per process (the result is cached:
    it is immutable), however many times a trial asks for it.
    """
    if not isinstance(spec, str):
        raise XraySSLError(f"an augmentation policy is a string, got {type(spec).__name__}")
    return _read(spec)


def parse_policy(spec: str) -> Policy:
    """Build the policy a spec string names; errors point at the offending character."""
    return Policy([call.build() for call in read_spec(spec)])
