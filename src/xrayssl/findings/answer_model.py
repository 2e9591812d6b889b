"""What a study's answer holds: per method and body part the selected policy, its test figures
and its differences to the base and the floors, and the headline sentence they make.

Built by :mod:`xrayssl.findings.answer`; rendered by ``study results`` and the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from xrayssl.evaluate.table import compact_p
from xrayssl.findings.ranking import Ranking

FLOORS = ("raw", "random", "supervised")
REFERENCES = ("base", *FLOORS)  # what the selected policy is compared with on test


@dataclass
class Counts:
    images: int
    patients: int

    @classmethod
    def of(cls, clusters: np.ndarray) -> Counts:
        return cls(len(clusters), len(np.unique(clusters)))

    def __str__(self) -> str:
        return f"{self.images} images, {self.patients} patients"


@dataclass
class Difference:
    """Selected minus reference on test: delta [lo, hi] and the two-sided bootstrap p."""

    delta: float
    lo: float
    hi: float
    p: float


@dataclass
class Selected:
    """One selected policy (over its seeds) and its test figures."""

    method: str
    body_part: str | None  # None: all images
    policy: str
    seeds: list[int | None]
    folders: list[str]
    n_subsets: int  # label subsets per seed behind the figures (1 at 100% labels)
    val_value: float  # pooled over seeds and subsets, on the images it was selected on
    test_value: float
    test_lo: float
    test_hi: float
    test_other: float
    test_other_lo: float
    test_other_hi: float
    is_base: bool = False  # the selected policy is the method's base policy
    versus: dict[str, Difference] = field(default_factory=dict)  # REFERENCES -> difference
    top_set: list[tuple[str, float]] = field(default_factory=list)  # (policy, P(best)) on val
    ranking: Ranking | None = None  # the val ranking it was selected from (every policy)
    val: Counts | None = None  # the images it was selected on
    test: Counts | None = None  # the images it is reported on
    note: str | None = None  # why differences or CIs are missing

    @property
    def protocol(self) -> str:
        return protocol_sentence(self.val, self.test)

    @property
    def seeds_text(self) -> str:
        """The runs behind the figures: "3 seeds (0, 1, 2) x 2 label subsets"."""
        seeds = ", ".join("?" if s is None else str(s) for s in self.seeds)
        word = "seed" if len(self.seeds) == 1 else "seeds"
        subsets = f" x {self.n_subsets} label subsets" if self.n_subsets > 1 else ""
        return f"{len(self.seeds)} {word} ({seeds}){subsets}"

    @property
    def top_set_text(self) -> str:
        """The top set on val with each policy's P(best): "crop+flip (P 0.62), crop (0.31)"."""
        return ", ".join(f"{name} ({'P ' if i == 0 else ''}{p:.2f})"
                         for i, (name, p) in enumerate(self.top_set)) or "–"


@dataclass
class Floor:
    kind: str
    test_value: float
    test_lo: float
    test_hi: float
    seeds: int = 1


@dataclass
class Answer:
    metric: str
    other: str
    selected: list[Selected]
    floors: list[Floor]
    val: Counts | None
    test: Counts | None
    beats_raw: bool | None  # None: no raw floor (or no paired test) to decide it
    notes: list[str] = field(default_factory=list)
    read_on_test: list[str] = field(default_factory=list)  # folders whose test block was read

    @property
    def protocol(self) -> str:
        return protocol_sentence(self.val, self.test)

    @property
    def headline(self) -> str:
        """The first sentence of the answer."""
        overall = [s for s in self.selected if s.body_part is None]
        if self.beats_raw is False:
            shown = "; ".join(f"{s.method} {s.policy}: {delta_text(s.versus.get('raw'))}"
                              for s in overall)
            return (f"SSL did not beat raw pixels here: no selected policy is significantly "
                    f"better than the raw-pixel probe on test ({self.metric.upper()} "
                    f"difference to raw: {shown}).")
        if self.beats_raw:
            won = [s for s in overall if beats(s.versus.get("raw"))]
            return ("SSL beat raw pixels on test: "
                    + "; ".join(f"{s.method} {s.policy} {delta_text(s.versus.get('raw'))}"
                                for s in won) + ".")
        return "No raw-pixel floor was measured on test: whether SSL helped is not decided."


def protocol_sentence(val: Counts | None, test: Counts | None) -> str:
    def counts(c: Counts | None) -> str:
        return "unknown counts" if c is None else str(c)

    return f"selected on val ({counts(val)}), reported on test ({counts(test)})"


def delta_text(d: Difference | None) -> str:
    if d is None:
        return "not measured"
    return f"Δ {d.delta:+.3f} [{d.lo:+.3f}, {d.hi:+.3f}], {compact_p(d.p)}"


def beats(d: Difference | None) -> bool:
    return d is not None and d.lo > 0
