"""The study's Grad-CAM sheet reads the selected policy and its base policy, per method."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xrayssl.apps.study_gradcam import sheet_order


@dataclass
class Run:
    folder: str
    method: str
    policy: str
    seed: int
    value: float


@dataclass
class Choice:
    method: str
    folders: list[str]
    body_part: str | None = None


@dataclass
class Findings:
    runs: list[Run]
    answer: Any = None
    base: str = "crop"
    notes: list[str] = field(default_factory=list)

    def ranked(self) -> list[Run]:
        return sorted(self.runs, key=lambda r: -r.value)

    def base_of(self, method: str, seed: int) -> Run | None:
        return next((r for r in self.runs if (r.method, r.seed, r.policy) == (method, seed,
                                                                             self.base)), None)


def test_selected_first_and_base_last_not_the_luckiest_seed() -> None:
    runs = [Run("a0", "simclr", "crop+flip", 0, 0.90),  # the luckiest single run
            Run("b0", "simclr", "crop+blur", 0, 0.85), Run("b1", "simclr", "crop+blur", 1, 0.84),
            Run("c0", "simclr", "crop", 0, 0.70), Run("c1", "simclr", "crop", 1, 0.72)]
    answer = type("A", (), {"selected": [Choice("simclr", ["b0", "b1"])]})()
    ordered, note = sheet_order(Findings(runs, answer))  # type: ignore[arg-type]
    assert [r.folder for r in ordered] == ["b0", "b1", "a0", "c0", "c1"]
    assert ordered[0].policy == "crop+blur" and ordered[-1].folder == "c1"  # base, best seed
    assert "selected policy" in note


def test_without_an_answer_the_sheet_reads_best_and_worst() -> None:
    runs = [Run("a0", "byol", "crop+flip", 0, 0.6), Run("c0", "byol", "crop", 0, 0.7)]
    ordered, note = sheet_order(Findings(runs))  # type: ignore[arg-type]
    assert [r.folder for r in ordered] == ["c0", "a0"] and "best and the worst" in note
