"""Run a study as an Optuna study: resumable, shared by many workers, never a trial twice.

One worker's loop, in ``StudyRunner.run``: reap the trials of dead workers
(:mod:`.workers`), enqueue the wanted keys that have no live trial (:mod:`.grid`,
:mod:`.claims`), claim one, or ask TPE for one in a search study (:mod:`.search`), run it,
repeat; :mod:`.progress` says how far it got. A halving study's wanted keys grow as its
rungs end (:mod:`.halving`): the loop recomputes them from the trials it reloads, so one
worker or many walk up the rungs. The storage and the study in it are
:mod:`.storage`.

- Finished trials are never redone; a trial whose worker died is marked FAIL and its key
  enqueued again. Its run folder keeps its checkpoints, so the re-run can resume pretraining.
- A trial that raises is marked FAIL with the error; its key is retried up to
  ``runner.max_attempts`` times, then reported as failed (``--retry-failed`` tries again).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TextIO

import optuna
from optuna.trial import FrozenTrial, TrialState

from xrayssl.config.study import StudyConfig
from xrayssl.errors import XraySSLError
from xrayssl.study import claims, search
from xrayssl.study.claims import SharedStudy
from xrayssl.study.floor_trials import is_floor_trial
from xrayssl.study.grid import grid_points
from xrayssl.study.progress import Progress, RunSummary, status_line, summarize, summary_line
from xrayssl.study.space import GridPoint
from xrayssl.study.storage import (
    default_storage_url,
    open_storage,
    open_study,
    write_study_file,
)
from xrayssl.study.workers import Heartbeat, reap_dead_workers, this_worker

__all__ = ["Pruned", "RunSummary", "StudyRunner", "TrialContext", "TrialFunction", "TrialOutcome"]


class Pruned(Exception):
    """Raised inside a trial function by ``TrialContext.report`` when the pruner says stop."""


@dataclass
class TrialContext:
    """What a trial function gets: its grid point, its run folder and a progress hook."""

    config: StudyConfig
    point: GridPoint
    trial_dir: Path
    study_dir: Path
    number: int
    report: Callable[[int, float], None] = field(repr=False)


@dataclass
class TrialOutcome:
    value: float
    summary: dict[str, float] = field(default_factory=dict)


TrialFunction = Callable[[TrialContext], TrialOutcome]


class StudyRunner:
    """One worker of a study. Any number of them may run at once on one storage."""

    def __init__(
        self,
        config: StudyConfig,
        trial_fn: TrialFunction,
        *,
        storage_url: str | None = None,
        progress: TextIO | None = sys.stderr,
        retry_failed: bool = False,
    ) -> None:
        self.config = config
        self.trial_fn = trial_fn
        self.study_dir = config.study_dir
        self.study_dir.mkdir(parents=True, exist_ok=True)
        self.storage_url = storage_url or default_storage_url(config)
        self.storage = open_storage(self.storage_url, config)
        self.progress = Progress(progress)
        self.worker = this_worker()
        # Errors before this moment do not count against max_attempts with --retry-failed.
        self.failures_since = datetime.now() if retry_failed else datetime.min
        self.search = config.space.kind == "search"
        self.points = grid_points(config)
        self.study = open_study(config, self.storage, self.storage_url, search.make_sampler(config))
        self.shared = SharedStudy(config, self.storage, self.storage_url, self.study)
        write_study_file(config)

    def trials(self, states: Sequence[TrialState] | None = None) -> list[FrozenTrial]:
        return self.shared.trials(states)

    def enqueue_missing(self, trials: Sequence[FrozenTrial] | None = None) -> int:
        """Enqueue every wanted key without a live trial; returns how many were added."""
        trials = self.trials() if trials is None else trials
        self.points = grid_points(self.config, trials, self.failures_since)
        return claims.enqueue_missing(self.shared, self.points, trials, self.failures_since)

    def summary(
        self, trials: Sequence[FrozenTrial] | None = None, ran_here: int = 0
    ) -> RunSummary:
        trials = self.trials() if trials is None else trials
        points = grid_points(self.config, trials, self.failures_since)
        return summarize(self.config, points, trials, self.failures_since, ran_here)

    def run(self, n_trials: int | None = None) -> RunSummary:
        """Work until the study is finished (or this worker ran ``n_trials``)."""
        ran = 0
        try:
            while n_trials is None or ran < n_trials:
                trials = self.trials()
                if reap_dead_workers(self.study, self.storage, trials, worker=self.worker,
                                     grace_period=self.config.runner.grace_period):
                    trials = self.trials()
                if self.enqueue_missing(trials):
                    trials = self.trials()
                trial = claims.claim(self.shared, trials, self.worker)
                if trial is None and self.search:
                    trial = search.ask_search_trial(self.shared, trials, self.worker)
                if trial is not None:
                    self._run_one(trial, trials)
                    ran += 1
                    continue
                running = [t for t in trials if t.state == TrialState.RUNNING]
                if not running or not self.config.runner.wait_for_others:
                    break
                self._show_status(trials, f"waiting for {len(running)} trial(s) on other workers")
                time.sleep(min(self.config.runner.heartbeat_interval, 5))
        finally:
            self.progress.close()
        summary = self.summary(ran_here=ran)
        self.progress.message(summary_line(self.config, summary, self.progress.elapsed))
        return summary

    def _run_one(self, frozen: FrozenTrial, trials: Sequence[FrozenTrial]) -> None:
        trial = optuna.trial.Trial(self.study, frozen._trial_id)
        sampled = self.search and not is_floor_trial(frozen)  # floors are fixed points
        point = (
            search.search_point(self.config, trial)
            if sampled
            else GridPoint.from_attrs(dict(frozen.user_attrs))
        )
        trial.set_user_attr("trial_dir", point.slug)
        self._show_status(trials, f"running {point.method} {point.policy.label} seed {point.seed}")

        def report(step: int, value: float) -> None:
            trial.report(value, step)
            if trial.should_prune():
                raise Pruned(f"pruned at step {step} (monitor {value:.4g})")

        context = TrialContext(
            config=self.config,
            point=point,
            trial_dir=self.study_dir / point.slug,
            study_dir=self.study_dir,
            number=frozen.number,
            report=report,
        )
        if sampled and search.reuse_finished(self.shared, point, trial, trials):
            return
        with Heartbeat(self.storage, frozen._trial_id, self.config.runner.heartbeat_interval):
            try:
                outcome = self.trial_fn(context)
            except Pruned as err:
                trial.set_user_attr("pruned", str(err))
                self.study.tell(trial, state=TrialState.PRUNED)
                return
            except (KeyboardInterrupt, SystemExit):
                # A stop (Lightning turns Ctrl-C into SystemExit): the trial runs again when
                # the study is continued.
                trial.set_user_attr("interrupted", True)
                self.study.tell(trial, state=TrialState.FAIL)
                raise
            except XraySSLError as err:
                self._fail(trial, point, f"{err}")
                return
            except Exception as err:
                self._fail(trial, point, f"{type(err).__name__}: {err}")
                return
        for name, value in outcome.summary.items():
            trial.set_user_attr(f"metric.{name}", value)
        self.study.tell(trial, outcome.value)

    def _fail(self, trial: optuna.trial.Trial, point: GridPoint, error: str) -> None:
        trial.set_user_attr("error", error[:2000])
        self.study.tell(trial, state=TrialState.FAIL)
        self.progress.message(
            f"trial {point.method} {point.policy.label} seed {point.seed} failed: {error}"
        )

    def _show_status(self, trials: Sequence[FrozenTrial], note: str = "") -> None:
        line = status_line(self.config, self.summary(trials), trials, self.progress.elapsed)
        self.progress.show(f"{line} | {note}" if note else line)
