"""What a worker tells people: one status line while it works, one summary when it stops."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

from optuna.trial import FrozenTrial, TrialState

from xrayssl.config.study import StudyConfig
from xrayssl.study.floor_trials import is_floor_trial
from xrayssl.study.grid import KEY, error_failures, halving_rungs
from xrayssl.study.halving import MethodRungs
from xrayssl.study.search import search_budget_left
from xrayssl.study.space import GridPoint


@dataclass
class RunSummary:
    complete: int
    failed: list[str]
    pruned: int
    remaining: int
    ran_here: int
    best: tuple[str, float] | None
    rung: str | None = None  # a halving study: which rung each method is on


def format_seconds(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


class Progress:
    """One status line: trials done/remaining, elapsed, estimated time left, best so far."""

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream
        self._started = time.monotonic()
        self._tty = bool(stream is not None and stream.isatty())
        self._last = ""

    def show(self, text: str) -> None:
        if self._stream is None or text == self._last:
            return
        self._last = text
        if self._tty:
            self._stream.write("\r\033[K" + text)
        else:
            self._stream.write(text + "\n")
        self._stream.flush()

    def message(self, text: str) -> None:
        if self._stream is None:
            return
        if self._tty:
            self._stream.write("\r\033[K")
        self._stream.write(text + "\n")
        self._stream.flush()
        self._last = ""

    def close(self) -> None:
        if self._stream is not None and self._tty and self._last:
            self._stream.write("\n")
            self._stream.flush()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started


def best_trial(complete: Sequence[FrozenTrial]) -> tuple[str, float] | None:
    scored = [t for t in complete if t.value is not None and "reused_from" not in t.user_attrs
              and not is_floor_trial(t)]  # the best policy: a floor is no policy
    if not scored:
        return None
    best = max(scored, key=lambda t: float(t.value or 0.0))
    point = GridPoint.from_attrs(dict(best.user_attrs))
    return f"{point.method} {point.policy.label}", float(best.value or 0.0)


def summarize(
    config: StudyConfig,
    points: Sequence[GridPoint],
    trials: Sequence[FrozenTrial],
    failures_since: datetime,
    ran_here: int = 0,
) -> RunSummary:
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    done_keys = {t.user_attrs.get(KEY) for t in complete}
    pruned_keys = {t.user_attrs.get(KEY) for t in trials if t.state == TrialState.PRUNED}
    errors = error_failures(trials, failures_since)
    failed = sorted(
        key for key, errs in errors.items()
        if len(errs) >= config.runner.max_attempts and key not in done_keys
    )
    if config.space.kind == "search":
        unfinished = [t for t in trials if t.state in (TrialState.WAITING, TrialState.RUNNING)]
        remaining = max(0, search_budget_left(config, trials)) + len(unfinished)
    else:
        finished = done_keys | pruned_keys | set(failed)
        remaining = len([p for p in points if p.key not in finished])
    rung = None
    if config.halving is not None:
        rungs = halving_rungs(config, trials, failures_since)
        # The rungs not decided yet count by the rule, so the total is known from the start.
        remaining += sum(r.planned_trials for m in rungs for r in m.rungs if not r.decided)
        rung = rung_text(rungs)
    return RunSummary(
        complete=len(done_keys),
        failed=failed,
        pruned=len(pruned_keys - done_keys),
        remaining=remaining,
        ran_here=ran_here,
        best=best_trial(complete),
        rung=rung,
    )


def rung_text(rungs: Sequence[MethodRungs]) -> str:
    """``rung 2/3 (10 epochs)``, or per method when the methods are on different rungs."""
    if not rungs:
        return ""
    total = len(rungs[0].rungs)

    def where(index: int, epochs: int) -> str:
        return f"{index + 1}/{total} ({epochs} epoch{'s' if epochs != 1 else ''})"

    on = {(m.current.index, m.current.epochs) for m in rungs}
    if len(on) == 1:
        return "rung " + where(*on.pop())
    return "rung " + ", ".join(f"{m.method} {where(m.current.index, m.current.epochs)}"
                               for m in rungs)


def eta(trials: Sequence[FrozenTrial], remaining: int) -> str:
    durations = [
        (t.datetime_complete - t.datetime_start).total_seconds()
        for t in trials
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
        and t.datetime_start and t.datetime_complete and "reused_from" not in t.user_attrs
    ]
    if not durations:
        return "?"
    workers = max(1, len([t for t in trials if t.state == TrialState.RUNNING]))
    return format_seconds(sum(durations) / len(durations) * remaining / workers)


def status_line(
    config: StudyConfig, summary: RunSummary, trials: Sequence[FrozenTrial], elapsed: float
) -> str:
    best = (
        f"best single run {summary.best[0]} ({config.objective.metric} {summary.best[1]:.3f})"
        if summary.best
        else "best: none yet"
    )
    total = summary.complete + summary.pruned + summary.remaining + len(summary.failed)
    rung = f" | {summary.rung}" if summary.rung else ""
    return (
        f"[{config.name}] {summary.complete + summary.pruned}/{total} done, "
        f"{summary.remaining} to go{rung} | {format_seconds(elapsed)} elapsed, "
        f"ETA {eta(trials, summary.remaining)} | {best}"
    )


def summary_line(config: StudyConfig, summary: RunSummary, elapsed: float) -> str:
    parts = [
        f"[{config.name}] {summary.complete} complete",
        f"{summary.pruned} pruned",
        f"{summary.remaining} remaining",
        f"{summary.ran_here} run by this worker in {format_seconds(elapsed)}",
    ]
    if summary.rung:
        parts.insert(1, f"on {summary.rung}")
    if summary.failed:
        parts.append(
            f"{len(summary.failed)} failed (see {config.study_dir}; --retry-failed to retry)"
        )
    if summary.best:
        # One seed of one policy: the selection (`study results`) pools each policy's seeds,
        # so it may name another policy.
        parts.append(f"best single run (one seed, val) {summary.best[0]} = "
                     f"{summary.best[1]:.4f}; the selection pools seeds")
    return ", ".join(parts)
