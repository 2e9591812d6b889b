"""Run a study as an Optuna study: resumable, shared by many workers, never a trial twice.

How a grid study stays exact with any number of workers and kills:

- Every grid point is one *key* (method | view 1 | view 2 | seed). Each worker, at start and
  after every trial, enqueues (WAITING) the keys that have no live trial (WAITING, RUNNING or
  COMPLETE). Finished trials are therefore never redone.
- A worker claims a WAITING trial through the storage's atomic WAITING -> RUNNING update.
  Should two workers have enqueued the same key at the same moment, only the lowest-numbered
  live trial of a key runs: a claimed trial with a lower-numbered live twin is closed as a
  duplicate without running. Trial numbers are fixed when trials are created, so both
  workers reach the same verdict whatever order they look in.
- A RUNNING trial whose worker died is detected by Optuna's heartbeat (after
  ``grace_period`` seconds without a beat, any machine) or at once when its worker ran on
  this machine and that process is gone. It is marked FAIL and its key, no longer live, is
  enqueued again. Its run folder keeps its checkpoints, so the re-run can resume pretraining.
- A trial that raises is marked FAIL with the error; its key is retried up to
  ``runner.max_attempts`` times, then reported as failed (``--retry-failed`` tries again).

A search study (``space.kind: search``) asks Optuna's TPE sampler for the next policy until
``space.n_trials`` trials exist; a sampled policy that already finished is not re-run (its
value is reported again so the sampler learns from it).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import optuna
import yaml
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, TrialState

from xrayssl.config.study import StudyConfig
from xrayssl.data.cache import atomic_write_text
from xrayssl.errors import XraySSLError
from xrayssl.study.floors import floor_points, is_floor_trial
from xrayssl.study.space import (
    GridPoint,
    PolicyPair,
    ablation_space,
    compose,
    explicit_space,
    grid,
    pairwise_space,
    subsets_space,
)

LIVE = (TrialState.WAITING, TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED)
KEY = "key"
STUDY_DB = "study.db"


class Pruned(Exception):
    """Raised inside a trial function by ``TrialContext.report`` when the pruner says stop."""


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Exclusive lock shared by every local worker of a study (claims, data made only once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

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


@dataclass
class RunSummary:
    complete: int
    failed: list[str]
    pruned: int
    remaining: int
    ran_here: int
    best: tuple[str, float] | None


def policy_pairs(config: StudyConfig) -> list[PolicyPair]:
    """The policies a grid study enumerates."""
    space = config.space
    if space.kind == "list":
        return explicit_space(space.policies)
    if space.kind == "subsets":
        return subsets_space(space.ops, space.base)
    if space.kind == "ablation":
        return ablation_space(space.ops, space.base, space.direction)
    if space.kind == "pairwise":
        return pairwise_space(space.ops, space.base, space.mode)
    raise ValueError(f"space kind {space.kind!r} is not a grid")


def grid_points(config: StudyConfig) -> list[GridPoint]:
    """The policies' points, then the floors' (raw pixels, random init, supervised)."""
    return grid(policy_pairs(config), config.methods, config.seeds) + floor_points(config)


def default_storage_url(config: StudyConfig) -> str:
    return f"sqlite:///{(config.study_dir / STUDY_DB).resolve()}"


def with_available_driver(url: str) -> str:
    """``postgresql://`` with the driver that is installed.

    SQLAlchemy 2.1 reads a bare ``postgresql://`` as psycopg 3; the project's extra installs
    psycopg2. Pick psycopg2 when psycopg 3 is absent, so plain URLs work either way.
    """
    scheme, sep, rest = url.partition("://")
    psycopg2_only = (
        importlib.util.find_spec("psycopg") is None
        and importlib.util.find_spec("psycopg2") is not None
    )
    if sep and scheme in ("postgresql", "postgres") and psycopg2_only:
        return f"postgresql+psycopg2://{rest}"
    return url


def open_storage(url: str, config: StudyConfig) -> RDBStorage:
    url = with_available_driver(url)
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # Several local workers write the same file: wait for the lock instead of failing.
        engine_kwargs["connect_args"] = {"timeout": 120}
    else:
        engine_kwargs["pool_pre_ping"] = True
    # Workers starting together on a new database race to create its tables; the loser
    # fails on "table exists" and succeeds on the next try, which finds them made.
    attempts = 5
    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(
                    url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=config.runner.heartbeat_interval,
                    grace_period=config.runner.grace_period,
                )
        except Exception as err:  # the driver's own errors are many and unrelated
            if attempt == attempts - 1:
                raise XraySSLError(f"cannot open study storage {url}: {err}") from None
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of a process (guards against a reused pid), None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def process_alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    now_started = process_start_time(pid)
    return started is None or now_started is None or now_started == started


class Heartbeat:
    """Beat for one trial every ``interval`` seconds on a daemon thread."""

    def __init__(self, storage: RDBStorage, trial_id: int, interval: int) -> None:
        self._storage = storage
        self._trial_id = trial_id
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while True:
            # A failed beat (database briefly locked) is retried on the next tick; a trial
            # only counts as dead after a whole grace period of missed beats.
            with contextlib.suppress(Exception):
                self._storage.record_heartbeat(self._trial_id)
            if self._stop.wait(self._interval):
                return

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


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
        self.worker = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": process_start_time(os.getpid()),
        }
        # Errors before this moment do not count against max_attempts with --retry-failed.
        self.failures_since = datetime.now() if retry_failed else datetime.min
        self.search = config.space.kind == "search"
        self.points = floor_points(config) if self.search else grid_points(config)
        self.study = self._open_study()
        self._write_study_files()

    # -- study ----------------------------------------------------------------------------

    def _open_study(self) -> optuna.study.Study:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler: optuna.samplers.BaseSampler = optuna.samplers.TPESampler(
            seed=self.config.seeds[0], n_startup_trials=5
        )
        pruner: optuna.pruners.BasePruner = (
            optuna.pruners.MedianPruner(
                n_startup_trials=self.config.runner.prune_startup_trials,
                n_warmup_steps=self.config.runner.prune_warmup_epochs,
            )
            if self.config.runner.prune
            else optuna.pruners.NopPruner()
        )
        try:
            study = optuna.create_study(
                storage=self.storage,
                study_name=self.config.name,
                direction="maximize",
                sampler=sampler,
                pruner=pruner,
                load_if_exists=True,
            )
        except Exception as err:
            raise XraySSLError(f"cannot open study {self.config.name!r}: {err}") from None
        fingerprint = self.config.fingerprint()
        stored = study.user_attrs.get("fingerprint")
        if stored is None:
            study.set_user_attr("fingerprint", fingerprint)
            study.set_user_attr("kind", self.config.space.kind)
        elif stored != fingerprint:
            raise XraySSLError(
                f"study {self.config.name!r} in {self.storage_url} was started with different "
                "data/pretrain/probe/objective settings, so its trials are not comparable with "
                "this config. Give the study a new name, or restore the settings it was "
                f"started with (see {self.study_dir / 'study.yaml'})."
            )
        return study

    def _write_study_files(self) -> None:
        path = self.study_dir / "study.yaml"
        text = yaml.safe_dump(self.config.model_dump(mode="json"), sort_keys=False)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            atomic_write_text(path, text)

    def trials(self, states: Sequence[TrialState] | None = None) -> list[FrozenTrial]:
        return self.study.get_trials(deepcopy=False, states=states)

    # -- queue ----------------------------------------------------------------------------

    def _error_failures(self, trials: Sequence[FrozenTrial]) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        for trial in trials:
            if trial.state == TrialState.FAIL and "error" in trial.user_attrs:
                start = trial.datetime_start or datetime.min
                if start >= self.failures_since:
                    errors.setdefault(trial.user_attrs[KEY], []).append(trial.user_attrs["error"])
        return errors

    def _wanted(self, trials: Sequence[FrozenTrial]) -> list[tuple[GridPoint, dict[str, Any]]]:
        """Points that should have a live trial: the grid, or a search's interrupted trials."""
        if not self.search:
            return [(point, {}) for point in self.points]
        wanted: list[tuple[GridPoint, dict[str, Any]]] = [(p, {}) for p in self.points]
        for trial in trials:
            if trial.state == TrialState.FAIL and KEY in trial.user_attrs and (
                "error" not in trial.user_attrs and "duplicate_of" not in trial.user_attrs
            ):
                point = GridPoint.from_attrs(dict(trial.user_attrs))
                wanted.append((point, dict(trial.params)))
        return wanted

    def enqueue_missing(self, trials: Sequence[FrozenTrial] | None = None) -> int:
        """Enqueue every wanted key without a live trial; returns how many were added."""
        trials = self.trials() if trials is None else trials
        live = {t.user_attrs.get(KEY) for t in trials if t.state in LIVE}
        errors = self._error_failures(trials)
        added = 0
        for point, params in self._wanted(trials):
            gave_up = len(errors.get(point.key, [])) >= self.config.runner.max_attempts
            if point.key in live or gave_up:
                continue
            self.study.enqueue_trial(
                params=params,
                user_attrs={KEY: point.key, "slug": point.slug, **point.as_attrs()},
                skip_if_exists=False,
            )
            live.add(point.key)
            added += 1
        return added

    def reap_dead_workers(self, trials: Sequence[FrozenTrial] | None = None) -> int:
        """Mark FAIL the RUNNING trials whose worker is gone; returns how many."""
        trials = self.trials() if trials is None else trials
        running = [t for t in trials if t.state == TrialState.RUNNING]
        if not running:
            return 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(self.study)
        still_running = self.trials([TrialState.RUNNING])
        reaped = len(running) - len(still_running)
        host = self.worker["host"]
        # Claimed, then killed before the first beat: no worker attribute was ever written.
        # Wait twice the grace period (start times come from the worker's own clock).
        unbeaten_before = datetime.now() - timedelta(seconds=2 * self.config.runner.grace_period)
        for trial in still_running:
            worker = trial.user_attrs.get("worker")
            if worker is None and (trial.datetime_start or datetime.now()) < unbeaten_before:
                with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                    if self.storage.set_trial_state_values(trial._trial_id, TrialState.FAIL):
                        reaped += 1
                continue
            if not isinstance(worker, dict) or worker.get("host") != host:
                continue
            if worker.get("pid") == os.getpid() or process_alive(
                int(worker["pid"]), worker.get("started")
            ):
                continue
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                self.storage.set_trial_user_attr(trial._trial_id, "abandoned", True)
                if self.storage.set_trial_state_values(trial._trial_id, TrialState.FAIL):
                    reaped += 1
        return reaped

    @contextlib.contextmanager
    def _claim_lock(self) -> Iterator[None]:
        """Make WAITING -> RUNNING atomic on SQLite.

        On PostgreSQL/MySQL the storage reads the trial row FOR UPDATE, so only one worker can
        move it out of WAITING. SQLite ignores FOR UPDATE: two processes can both read WAITING
        and both "win". SQLite studies are local files, so an exclusive lock on a file beside
        the database serialises the claims of every worker that shares it.
        """
        if not self.storage_url.startswith("sqlite"):
            yield
            return
        database = self.storage_url.split(":///", 1)[-1]
        with file_lock(Path(f"{database}.claim.lock")):
            yield

    def claim(self, trials: Sequence[FrozenTrial] | None = None) -> FrozenTrial | None:
        """Take the next WAITING trial for this worker, closing duplicates on the way."""
        trials = self.trials() if trials is None else trials
        for waiting in [t for t in trials if t.state == TrialState.WAITING]:
            with self._claim_lock():
                try:
                    if not self.storage.set_trial_state_values(
                        waiting._trial_id, TrialState.RUNNING
                    ):
                        continue
                except optuna.exceptions.UpdateFinishedTrialError:
                    continue
                # Beat at once: Optuna only sees a trial as stale once it has a heartbeat, so
                # a worker killed before its first beat would leave the trial RUNNING for ever.
                self.storage.record_heartbeat(waiting._trial_id)
            # Read again after the claim: a twin claimed before us is visible now.
            key = waiting.user_attrs.get(KEY)
            twin = next(
                (
                    other
                    for other in self.trials(LIVE)
                    if other.user_attrs.get(KEY) == key
                    and other.number != waiting.number
                    and (other.number < waiting.number or other.state.is_finished())
                ),
                None,
            )
            if twin is not None:
                self.storage.set_trial_user_attr(waiting._trial_id, "duplicate_of", twin.number)
                self.storage.set_trial_state_values(waiting._trial_id, TrialState.FAIL)
                continue
            self.storage.set_trial_user_attr(waiting._trial_id, "worker", self.worker)
            return self.storage.get_trial(waiting._trial_id)
        return None

    def _search_budget_left(self, trials: Sequence[FrozenTrial]) -> int:
        assert self.config.space.n_trials is not None
        counted = [
            t for t in trials
            if (t.state in (TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED)
                or (t.state == TrialState.FAIL and "error" in t.user_attrs))
            and not is_floor_trial(t)  # the floors come on top of the policy budget
        ]
        return self.config.space.n_trials - len(counted)

    def _ask_search_trial(self, trials: Sequence[FrozenTrial]) -> FrozenTrial | None:
        """A new TPE trial (search mode), or None when the budget is spent."""
        if self._search_budget_left(trials) <= 0:
            return None
        with warnings.catch_warnings():
            # We beat the heart ourselves (Heartbeat below), which Optuna cannot see from ask().
            warnings.filterwarnings("ignore", message="Heartbeat of storage")
            with self._claim_lock():
                trial = self.study.ask()
                self.storage.record_heartbeat(trial._trial_id)
        point = self.search_point(trial)
        for name, value in {KEY: point.key, "slug": point.slug, **point.as_attrs()}.items():
            trial.set_user_attr(name, value)
        trial.set_user_attr("worker", self.worker)
        return self.storage.get_trial(trial._trial_id)

    def search_point(self, trial: optuna.trial.Trial) -> GridPoint:
        """The policy TPE proposes: which ops are in, and their strengths."""
        space = self.config.space
        parts = [space.base]
        for op in space.ops:
            if not trial.suggest_categorical(f"use_{op}", [True, False]):
                continue
            params = {
                name: trial.suggest_float(f"{op}.{name}", low, high)
                for name, (low, high) in sorted(space.strengths.get(op, {}).items())
            }
            args = ",".join(f"{name}={value:.3g}" for name, value in params.items())
            parts.append(f"{op}({args})" if args else op)
        method = (
            trial.suggest_categorical("method", list(self.config.methods))
            if len(self.config.methods) > 1
            else self.config.methods[0]
        )
        return GridPoint(
            method=str(method), policy=PolicyPair(compose(*parts)), seed=self.config.seeds[0]
        )

    # -- running --------------------------------------------------------------------------

    def run(self, n_trials: int | None = None) -> RunSummary:
        """Work until the study is finished (or this worker ran ``n_trials``)."""
        ran = 0
        try:
            while n_trials is None or ran < n_trials:
                trials = self.trials()
                if self.reap_dead_workers(trials):
                    trials = self.trials()
                if self.enqueue_missing(trials):
                    trials = self.trials()
                trial = self.claim(trials)
                if trial is None and self.search:
                    trial = self._ask_search_trial(trials)
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
        self.progress.message(self._summary_line(summary))
        return summary

    def _run_one(self, frozen: FrozenTrial, trials: Sequence[FrozenTrial]) -> None:
        trial = optuna.trial.Trial(self.study, frozen._trial_id)
        point = self.search_point(trial) if self.search else GridPoint.from_attrs(
            dict(frozen.user_attrs)
        )
        trial_dir = self.study_dir / point.slug
        trial.set_user_attr("trial_dir", point.slug)
        self._show_status(trials, f"running {point.method} {point.policy.label} seed {point.seed}")

        def report(step: int, value: float) -> None:
            trial.report(value, step)
            if trial.should_prune():
                raise Pruned(f"pruned at step {step} (monitor {value:.4g})")

        context = TrialContext(
            config=self.config,
            point=point,
            trial_dir=trial_dir,
            study_dir=self.study_dir,
            number=frozen.number,
            report=report,
        )
        if self._reuse_finished(point, trial, trials):
            return
        with Heartbeat(self.storage, frozen._trial_id, self.config.runner.heartbeat_interval):
            try:
                outcome = self.trial_fn(context)
            except Pruned as err:
                trial.set_user_attr("pruned", str(err))
                self.study.tell(trial, state=TrialState.PRUNED)
                return
            except KeyboardInterrupt:
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

    def _reuse_finished(
        self, point: GridPoint, trial: optuna.trial.Trial, trials: Sequence[FrozenTrial]
    ) -> bool:
        """Search mode: a sampled policy that already finished is answered from the store."""
        if not self.search:
            return False
        for other in trials:
            if (other.state == TrialState.COMPLETE and other.user_attrs.get(KEY) == point.key
                    and other.value is not None):
                trial.set_user_attr("reused_from", other.number)
                self.study.tell(trial, other.value)
                return True
        return False

    def _fail(self, trial: optuna.trial.Trial, point: GridPoint, error: str) -> None:
        trial.set_user_attr("error", error[:2000])
        self.study.tell(trial, state=TrialState.FAIL)
        self.progress.message(
            f"trial {point.method} {point.policy.label} seed {point.seed} failed: {error}"
        )

    # -- reporting ------------------------------------------------------------------------

    def _best(self, complete: Sequence[FrozenTrial]) -> tuple[str, float] | None:
        scored = [t for t in complete if t.value is not None and "reused_from" not in t.user_attrs
                  and not is_floor_trial(t)]
        if not scored:
            return None
        best = max(scored, key=lambda t: float(t.value or 0.0))
        point = GridPoint.from_attrs(dict(best.user_attrs))
        return f"{point.method} {point.policy.label}", float(best.value or 0.0)

    def summary(
        self, trials: Sequence[FrozenTrial] | None = None, ran_here: int = 0
    ) -> RunSummary:
        trials = self.trials() if trials is None else trials
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        done_keys = {t.user_attrs.get(KEY) for t in complete}
        pruned_keys = {t.user_attrs.get(KEY) for t in trials if t.state == TrialState.PRUNED}
        errors = self._error_failures(trials)
        failed = sorted(
            key for key, errs in errors.items()
            if len(errs) >= self.config.runner.max_attempts and key not in done_keys
        )
        if self.search:
            unfinished = [t for t in trials if t.state in (TrialState.WAITING, TrialState.RUNNING)]
            remaining = max(0, self._search_budget_left(trials)) + len(unfinished)
        else:
            finished = done_keys | pruned_keys | set(failed)
            remaining = len([p for p in self.points if p.key not in finished])
        return RunSummary(
            complete=len(done_keys),
            failed=failed,
            pruned=len(pruned_keys - done_keys),
            remaining=remaining,
            ran_here=ran_here,
            best=self._best(complete),
        )

    def _eta(self, trials: Sequence[FrozenTrial], remaining: int) -> str:
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

    def _show_status(self, trials: Sequence[FrozenTrial], note: str = "") -> None:
        summary = self.summary(trials)
        best = (
            f"best {summary.best[0]} ({self.config.objective.metric} {summary.best[1]:.3f})"
            if summary.best
            else "best: none yet"
        )
        total = summary.complete + summary.pruned + summary.remaining + len(summary.failed)
        line = (
            f"[{self.config.name}] {summary.complete + summary.pruned}/{total} done, "
            f"{summary.remaining} to go | {format_seconds(self.progress.elapsed)} elapsed, "
            f"ETA {self._eta(trials, summary.remaining)} | {best}"
        )
        self.progress.show(f"{line} | {note}" if note else line)

    def _summary_line(self, summary: RunSummary) -> str:
        parts = [
            f"[{self.config.name}] {summary.complete} complete",
            f"{summary.pruned} pruned",
            f"{summary.remaining} remaining",
            f"{summary.ran_here} run by this worker in {format_seconds(self.progress.elapsed)}",
        ]
        if summary.failed:
            parts.append(
                f"{len(summary.failed)} failed (see {self.study_dir}; --retry-failed to retry)"
            )
        if summary.best:
            parts.append(f"best {summary.best[0]} = {summary.best[1]:.4f}")
        return ", ".join(parts)
