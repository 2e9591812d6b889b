"""Enqueue and claim: how many workers share one study without running a trial twice.

Each worker, at start and after every trial, enqueues (WAITING) the wanted keys that have no
live trial. A worker claims a WAITING trial through the storage's atomic WAITING -> RUNNING
update. Should two workers have enqueued the same key at the same moment, only the
lowest-numbered live trial of a key runs: a claimed trial with a lower-numbered live twin is
closed as a duplicate without running. Trial numbers are fixed when trials are created, so
both workers reach the same verdict whatever order they look in.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import optuna
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, TrialState

from xrayssl.config.study import StudyConfig
from xrayssl.study.grid import KEY, LIVE, error_failures, point_attrs, wanted_trials
from xrayssl.study.space import GridPoint
from xrayssl.study.storage import claim_lock_path, file_lock


@dataclass
class SharedStudy:
    """The study every worker shares: its config, storage and Optuna study."""

    config: StudyConfig
    storage: RDBStorage
    storage_url: str
    study: optuna.study.Study

    def trials(self, states: Sequence[TrialState] | None = None) -> list[FrozenTrial]:
        return self.study.get_trials(deepcopy=False, states=states)

    @contextlib.contextmanager
    def claim_lock(self) -> Iterator[None]:
        """Make WAITING -> RUNNING atomic on SQLite (see ``storage.claim_lock_path``)."""
        path = claim_lock_path(self.storage_url)
        if path is None:
            yield
            return
        with file_lock(path):
            yield


def enqueue_missing(
    shared: SharedStudy,
    points: Sequence[GridPoint],
    trials: Sequence[FrozenTrial],
    failures_since: datetime,
) -> int:
    """Enqueue every wanted key without a live trial; returns how many were added."""
    live = {t.user_attrs.get(KEY) for t in trials if t.state in LIVE}
    errors = error_failures(trials, failures_since)
    added = 0
    for wanted in wanted_trials(shared.config, points, trials):
        key = wanted.point.key
        gave_up = len(errors.get(key, [])) >= shared.config.runner.max_attempts
        if key in live or gave_up:
            continue
        shared.study.enqueue_trial(
            params=wanted.params, user_attrs=point_attrs(wanted.point), skip_if_exists=False
        )
        live.add(key)
        added += 1
    return added


def claim(
    shared: SharedStudy, trials: Sequence[FrozenTrial], worker: dict[str, Any]
) -> FrozenTrial | None:
    """Take the next WAITING trial for this worker, closing duplicates on the way."""
    storage = shared.storage
    for waiting in [t for t in trials if t.state == TrialState.WAITING]:
        with shared.claim_lock():
            try:
                if not storage.set_trial_state_values(waiting._trial_id, TrialState.RUNNING):
                    continue
            except optuna.exceptions.UpdateFinishedTrialError:
                continue
            # Beat at once: Optuna only sees a trial as stale once it has a heartbeat, so
            # a worker killed before its first beat would leave the trial RUNNING for ever.
            storage.record_heartbeat(waiting._trial_id)
        # Read again after the claim: a twin claimed before us is visible now.
        key = waiting.user_attrs.get(KEY)
        twin = next(
            (
                other
                for other in shared.trials(LIVE)
                if other.user_attrs.get(KEY) == key
                and other.number != waiting.number
                and (other.number < waiting.number or other.state.is_finished())
            ),
            None,
        )
        if twin is not None:
            storage.set_trial_user_attr(waiting._trial_id, "duplicate_of", twin.number)
            storage.set_trial_state_values(waiting._trial_id, TrialState.FAIL)
            continue
        storage.set_trial_user_attr(waiting._trial_id, "worker", worker)
        return storage.get_trial(waiting._trial_id)
    return None
