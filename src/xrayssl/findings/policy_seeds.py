"""A policy over its pretraining seeds: the unit the study's answer selects and reports.

One policy of one method is one run folder per pretraining seed. Their predictions on a split
stack to (R seeds, S label subsets, N images), the shape :mod:`xrayssl.evaluate.uncertainty`
bootstraps; each prediction set keeps the decision threshold its probe chose on val.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xrayssl.findings.run_result import RunResult, fit_thresholds
from xrayssl.runs.folder import read_run
from xrayssl.runs.metrics_file import HELD_OUT, HeldOutSplit, SplitScores


@dataclass
class Stack:
    """One unit's predictions on one split's images, and each set's threshold."""

    probs: np.ndarray  # (R, S, N)
    thresholds: np.ndarray  # (R, S)

    def take(self, mask: np.ndarray) -> Stack:
        """Only the images where ``mask`` (N,) is True."""
        return Stack(self.probs[..., mask], self.thresholds)


@dataclass
class PolicySeeds:
    """The run folders of one policy of one method, one per pretraining seed."""

    method: str
    policy: str
    runs: list[RunResult]

    @property
    def seeds(self) -> list[int | None]:
        return [run.seed for run in self.runs]

    @property
    def folders(self) -> list[str]:
        return [run.folder for run in self.runs]


def group_policies(runs: list[RunResult]) -> dict[str, PolicySeeds]:
    """Runs -> policy label -> its seeds (seed order), in the order policies first appear."""
    out: dict[str, PolicySeeds] = {}
    for run in runs:
        out.setdefault(run.policy, PolicySeeds(run.method, run.policy, [])).runs.append(run)
    for unit in out.values():
        unit.runs.sort(key=lambda r: (r.seed is None, r.seed or 0, r.folder))
    return out


def stack(sets: list[tuple[np.ndarray, list[float] | None]]) -> Stack | None:
    """Each seed's (S, N) predictions and (S,) thresholds -> one (R, S, N) stack.

    Seeds with fewer label subsets than the others bound S (the first S subsets of each);
    a missing threshold is 0.5, the one the probe would have applied."""
    if not sets:
        return None
    subsets = min(len(p) for p, _ in sets)
    probs = np.stack([np.asarray(p, dtype=np.float64)[:subsets] for p, _ in sets])
    cuts = np.stack([np.asarray(t[:subsets] if t is not None else [0.5] * subsets,
                                dtype=np.float64) for _, t in sets])
    return Stack(probs, cuts)


def val_stack(unit: PolicySeeds, n_images: int) -> Stack | None:
    """The unit's val predictions at the objective fraction; None if a seed lacks them."""
    sets = [(run.probs, run.thresholds) for run in unit.runs
            if run.probs is not None and run.probs.shape[-1] == n_images]
    return stack(sets) if len(sets) == len(unit.runs) else None


@dataclass
class TestBlocks:
    """A unit's test blocks: each seed's recorded scores, and their predictions stacked."""

    split: HeldOutSplit
    scores: list[SplitScores]  # one per seed
    stack: Stack | None  # None when a seed's file holds no test predictions

    @property
    def labels(self) -> np.ndarray | None:
        return None if self.split.labels is None else np.asarray(self.split.labels)

    @property
    def clusters(self) -> np.ndarray | None:
        return None if self.split.clusters is None else np.asarray(self.split.clusters)

    @property
    def parts(self) -> np.ndarray | None:
        parts = self.split.image_parts
        return None if parts is None else np.asarray(parts)


def read_test_blocks(runs: list[RunResult], study_dir: Path, fraction: float,
                     notes: list[str]) -> TestBlocks | None:
    """Read the test block of every run of one unit (the caller decides which units may be
    read on test); None, with a note, when a seed has none or seeds disagree on the images."""
    split: HeldOutSplit | None = None
    scores: list[SplitScores] = []
    for run in runs:
        metrics = read_run(run.path, study_dir).metrics
        block, held = metrics.scores(fraction, HELD_OUT), metrics.splits.get(HELD_OUT)
        if block is None or held is None:
            notes.append(f"{run.folder}: no test block at label fraction {fraction:g}; run it "
                         "again to report it")
            return None
        if split is not None and (held.indices or []) != (split.indices or []):
            notes.append(f"{run.folder}: scored on other test images than {runs[0].folder}; "
                         "its seeds cannot be pooled")
            return None
        split = split or held
        scores.append(block)
    if split is None:
        return None
    sets = [(np.asarray(s.predictions), fit_thresholds(s)) for s in scores
            if s.predictions is not None]
    pooled = stack(sets) if len(sets) == len(scores) and split.labels is not None \
        and split.clusters is not None else None
    return TestBlocks(split, scores, pooled)
