"""``xrayssl study plan``: what ``xrayssl study run CONFIG`` would do, before anything starts.

The trials of the config, which of them the study's storage already holds (read only: the
SQLite file is opened read-only and no table is created), and a time estimate from a few
pretraining steps measured now, on the study's cache (or on random images of the study's size
when the cache is not prepared yet) with the study's encoder, method, policy and batch size.
A halving study lists the trials of the rungs decided so far, counts those of the later rungs
by the halving rule, and says how many pretraining epochs the study spends with halving and
without it.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
import torch
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, TrialState

from xrayssl.config.study import StudyConfig
from xrayssl.data.cache import INDEX_FILE, PreparedCache
from xrayssl.errors import XraySSLError
from xrayssl.runs.folder import StudyFolder
from xrayssl.study.floor_trials import floor_kind
from xrayssl.study.grid import KEY, grid_points, halving_rungs, policy_pairs
from xrayssl.study.halving import MethodRungs
from xrayssl.study.progress import format_seconds
from xrayssl.study.space import GridPoint, PolicyPair, compose
from xrayssl.study.storage import (
    default_storage_url,
    redact_url,
    storage_error,
    with_available_driver,
)

TIMED_STEPS = 3  # after one untimed warm-up step (first-call allocations, lazy init)

# Order of precedence when one grid point has several stored trials (retries, re-queues).
STATE_ORDER = ("done", "running", "pruned", "failed")
STORED_STATE = {
    TrialState.COMPLETE: "done",
    TrialState.RUNNING: "running",
    TrialState.PRUNED: "pruned",
    TrialState.FAIL: "failed",
    TrialState.WAITING: "to run",  # enqueued by a worker, not started
}


@dataclass
class PlannedTrial:
    point: GridPoint
    state: str  # "done", "running", "pruned", "failed" or "to run"
    value: float | None = None


@dataclass
class StepTiming:
    """Seconds per pretraining step of one method, and the steps one trial takes."""

    method: str
    seconds_per_step: float
    steps_per_trial: int | None  # None when the training set is not known yet
    batch: int
    image_size: int
    epochs: int = 1  # of a trial at the study's pretrain.epochs

    @property
    def trial_seconds(self) -> float | None:
        if self.steps_per_trial is None:
            return None
        return self.seconds_per_step * self.steps_per_trial

    def seconds_for(self, epochs: int | None) -> float | None:
        """Pretraining seconds of a trial of ``epochs`` (None: the study's epochs)."""
        seconds = self.trial_seconds
        if seconds is None or epochs is None:
            return seconds
        return seconds * epochs / self.epochs


@dataclass
class HalvingOutlook:
    """The rungs of a halving study as far as decided, and its pretraining epochs."""

    rungs: list[MethodRungs]
    epochs_with: int  # every rung's trials x their epochs (later rungs by the rule)
    epochs_all_final: int  # every policy at the last rung's epochs with the final seeds
    epochs_one_seed: int  # every policy at pretrain.epochs with the study's seeds (no halving)
    pretrain_epochs: int

    def pending(self, method: str) -> list[tuple[int, int]]:
        """(epochs, trials) of the rungs of ``method`` not decided yet."""
        rungs = next(m for m in self.rungs if m.method == method).rungs
        return [(r.epochs, r.planned_trials) for r in rungs if not r.decided]

    def render(self, config: StudyConfig) -> list[str]:
        assert config.halving is not None
        halving = config.halving
        lines = [f"halving: rungs of {halving.rungs} epochs, keep {halving.keep:g} "
                 f"(at least {halving.min_keep}), final seeds {halving.final_seeds}"
                 + (", the base policy carried to every rung" if halving.keep_base else "")]
        for method in self.rungs:
            lines.append(f"  {method.method}: on rung {method.current.index + 1}/"
                         f"{len(method.rungs)}; " + "; ".join(
                             f"{r.epochs} epochs: {r.planned} policies x {len(r.seeds)} seed(s)"
                             + ("" if r.decided else " (by the rule)") for r in method.rungs))
        share = self.epochs_with / self.epochs_all_final if self.epochs_all_final else 0.0
        lines.append(
            f"pretraining epochs: {self.epochs_with} with halving; {self.epochs_all_final} "
            f"without it (every policy at {halving.rungs[-1]} epochs with the final seeds, "
            f"{share:.0%} spent); {self.epochs_one_seed} for one run of everything at "
            f"pretrain.epochs = {self.pretrain_epochs} with seeds {config.seeds}")
        return lines


def halving_outlook(config: StudyConfig, rungs: list[MethodRungs]) -> HalvingOutlook:
    assert config.halving is not None
    from xrayssl.study.trial import pretrain_config

    n = len(policy_pairs(config))
    methods = len(config.methods)
    with_halving = sum(r.planned_trials * r.epochs for m in rungs for r in m.rungs)
    first = GridPoint(config.methods[0], policy_pairs(config)[0], config.seeds[0])
    epochs = pretrain_config(config, first, progress=False).epochs
    return HalvingOutlook(
        rungs=rungs, epochs_with=with_halving,
        epochs_all_final=n * methods * config.halving.rungs[-1] * len(config.halving.final_seeds),
        epochs_one_seed=n * methods * epochs * len(config.seeds), pretrain_epochs=epochs)


@dataclass
class StudyPlan:
    config: StudyConfig
    storage: str
    trials: list[PlannedTrial]
    search_left: int | None  # search studies: trials the budget still allows
    timings: dict[str, StepTiming]
    images: str  # what the timed steps ran on
    workers: int
    notes: list[str]
    halving: HalvingOutlook | None = None

    def to_run(self) -> list[PlannedTrial]:
        return [t for t in self.trials if t.state in ("to run", "failed")]

    def remaining_seconds(self) -> float | None:
        """Pretraining time of the trials left, spread over the local workers (the floors
        do not pretrain and are not counted)."""
        if self.search_left is not None:
            timing = next(iter(self.timings.values()), None)
            seconds = timing.trial_seconds if timing is not None else None
            return None if seconds is None else seconds * self.search_left / self.workers
        total = 0.0
        for trial in self.to_run():
            if floor_kind(trial.point) is not None:
                continue
            timing = self.timings.get(trial.point.method)
            seconds = None if timing is None else timing.seconds_for(trial.point.epochs)
            if seconds is None:
                return None
            total += seconds
        if self.halving is not None:
            for method, timing in self.timings.items():
                for epochs, trials in self.halving.pending(method):  # later rungs, by the rule
                    total += (timing.seconds_for(epochs) or 0.0) * trials
        return total / self.workers

    def left(self) -> int:
        """Trials left to run (a halving study's later rungs counted by the rule)."""
        if self.search_left is not None:
            return self.search_left
        rungs = self.halving.rungs if self.halving is not None else []
        pending = sum(r.planned_trials for m in rungs for r in m.rungs if not r.decided)
        return len(self.to_run()) + pending

    def render(self) -> str:
        config = self.config
        lines = [f"study {config.name}: {config.space.kind} space, methods "
                 f"{', '.join(config.methods)}, seeds {config.seeds}; folder {config.study_dir}",
                 f"storage: {self.storage}"]
        counts = Counter(t.state for t in self.trials)
        if self.search_left is not None:
            lines.append(f"search: {counts['done']} trials done, {self.search_left} more "
                         f"allowed by space.n_trials = {config.space.n_trials}")
        else:
            summary = ", ".join(f"{counts[s]} {s}" for s in (*STATE_ORDER, "to run") if counts[s])
            lines.append(f"{len(self.trials)} trials: {summary}")
            width = max(len(t.point.policy.label) for t in self.trials)
            for trial in self.trials:
                value = f" ({config.objective.metric} {trial.value:.3f})" if (
                    trial.value is not None) else ""
                epochs = "" if trial.point.epochs is None else f", {trial.point.epochs} epochs"
                lines.append(f"  {trial.state:<8} {trial.point.method:<8} "
                             f"{trial.point.policy.label:<{width}}  seed {trial.point.seed}"
                             f"{epochs}{value}")
        if self.halving is not None:
            lines += self.halving.render(config)
        if self.timings:
            lines.append(f"measured now ({TIMED_STEPS} steps each, {self.images}):")
        for timing in self.timings.values():
            per_trial = ("" if timing.trial_seconds is None else
                         f", {timing.steps_per_trial} steps per trial -> "
                         f"{format_seconds(timing.trial_seconds)} of pretraining")
            lines.append(f"  {timing.method}: {timing.seconds_per_step:.2f} s per step of "
                         f"{timing.batch} images at {timing.image_size} px{per_trial}")
        remaining = self.remaining_seconds()
        left = self.left()
        if remaining is not None and left:
            lines.append(f"estimate: about {format_seconds(remaining)} for the {left} trials "
                         f"left on {self.workers} worker(s) (pretraining only; the kNN monitor, "
                         "probe and Grad-CAM add to it; the machine's load changes it)")
        elif not left:
            lines.append("nothing left to run: `xrayssl study results` rebuilds the tables")
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


# -- what is stored ---------------------------------------------------------------------------


def read_only_url(url: str) -> str | None:
    """The SQLite URL opened read-only; None when the file does not exist (nothing stored)."""
    if not url.startswith("sqlite:///"):
        return url
    path = Path(url.removeprefix("sqlite:///"))
    if not path.is_file():
        return None
    return f"sqlite:///file:{path}?mode=ro&uri=true"


def stored_trials(config: StudyConfig, url: str, notes: list[str]) -> list[FrozenTrial]:
    """The study's trials as stored; [] when there is no study yet. Writes nothing."""
    reading = read_only_url(url)
    if reading is None:
        return []
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        storage = RDBStorage(with_available_driver(reading), skip_table_creation=True,
                             skip_compatibility_check=True)
    except Exception as err:  # the drivers' errors are many and unrelated
        raise XraySSLError(
            f"cannot read study storage {redact_url(url)}: {storage_error(err, url)}") from None
    try:
        study = optuna.load_study(study_name=config.name, storage=storage)
    except KeyError:
        return []
    stored = study.user_attrs.get("fingerprint")
    if stored is not None and stored != config.fingerprint():
        notes.append("the stored study was started with other data/pretrain/probe/objective "
                     "settings; `study run` will refuse this config (rename the study or "
                     "restore them)")
    return study.get_trials(deepcopy=False)


def plan_trials(points: list[GridPoint], trials: list[FrozenTrial]) -> list[PlannedTrial]:
    by_key: dict[str, list[FrozenTrial]] = {}
    for trial in trials:
        by_key.setdefault(str(trial.user_attrs.get(KEY)), []).append(trial)
    planned = []
    for point in points:
        states = {STORED_STATE[t.state]: t for t in by_key.get(point.key, [])
                  if t.state in STORED_STATE}
        state = next((s for s in STATE_ORDER if s in states), "to run")
        value = states["done"].value if state == "done" else None
        planned.append(PlannedTrial(point, state, value))
    return planned


# -- timing -----------------------------------------------------------------------------------


def open_prepared(config: StudyConfig) -> PreparedCache | None:
    """The study's prepared cache if it exists already (never prepares anything)."""
    data = config.data
    folder = data.cache if data.cache is not None else (
        data.cache_dir or StudyFolder(config.study_dir).cache)
    return PreparedCache.open(folder) if (folder / INDEX_FILE).is_file() else None


def source_training_images(config: StudyConfig) -> int | None:
    """Training images of a ``data.source`` not prepared yet, counted from its listing (the
    images are not read); None for generated data, whose size is known only once made."""
    if config.data.source is None:
        return None
    from xrayssl.data.sources import load_source

    records = load_source(config.data.source, body_parts=config.data.body_parts,
                          body_part=config.data.body_part)
    splits = set(config.pretrain.get("splits", ["train"]))
    in_splits = [r for r in records if r.split in splits]
    return len(in_splits) if in_splits else len(records)


def time_steps(config: StudyConfig, point: GridPoint, cache: PreparedCache | None,
               steps: int = TIMED_STEPS, n_source: int | None = None) -> StepTiming:
    """Seconds per optimiser step of ``point``'s pretraining: views, loss, backward, AdamW."""
    from xrayssl.models.encoders import build_encoder
    from xrayssl.models.methods import build_method
    from xrayssl.models.methods.base import Schedule
    from xrayssl.models.pretrain import build_views, select_training
    from xrayssl.study.trial import pretrain_config

    settings = pretrain_config(config, point, progress=False)
    stored_size = cache.size if cache is not None else config.data.size
    image_size = settings.image_size or stored_size
    generator = torch.Generator().manual_seed(0)
    n_train: int | None = n_source
    if cache is not None:
        indices = select_training(settings, cache)
        n_train = len(indices)
        picks = np.sort(indices[: settings.batch_size])
        images = torch.from_numpy(np.asarray(cache.images[picks]))  # (B, S, S) uint8
    else:
        images = torch.randint(0, 256, (settings.batch_size, stored_size, stored_size),
                               generator=generator, dtype=torch.uint8)
    encoder = build_encoder(settings.encoder, image_size=image_size, weights=None)
    views = build_views(settings, image_size if image_size != stored_size else None)
    method = build_method(settings.method, encoder, views=views, schedule=Schedule(),
                          options=settings.method_options)
    method.train()
    optimizer = torch.optim.AdamW(method.parameters(), lr=1e-4)
    batch = {"images": images, "index": torch.arange(len(images))}
    elapsed = 0.0
    for step in range(steps + 1):
        started = time.perf_counter()
        v1, v2 = method.views(batch, generator)  # each (B, 1, H, W)
        loss = method.pair_loss(v1, v2)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        if step > 0:  # the first step pays one-off costs
            elapsed += time.perf_counter() - started
    per_epoch = settings.batches_per_epoch or (
        max(1, n_train // settings.batch_size) if n_train is not None else None)
    return StepTiming(
        method=point.method, seconds_per_step=elapsed / steps,
        steps_per_trial=None if per_epoch is None else per_epoch * settings.epochs,
        batch=len(images), image_size=image_size, epochs=settings.epochs,
    )


def make_plan(config: StudyConfig, *, storage_url: str | None = None, workers: int = 1,
              timing: bool = True) -> StudyPlan:
    """Everything ``study run`` would do with ``config``; reads, never writes."""
    url = storage_url or default_storage_url(config)
    notes: list[str] = []
    trials = stored_trials(config, url, notes)
    search_left: int | None = None
    if config.space.kind == "search":
        assert config.space.n_trials is not None
        done = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
        search_left = max(0, config.space.n_trials - len(done))
        planned = [PlannedTrial(GridPoint.from_attrs(dict(t.user_attrs)), STORED_STATE[t.state],
                                t.value) for t in trials if KEY in t.user_attrs
                   and t.state in STORED_STATE]
        timed = [GridPoint(m, PolicyPair(compose(config.space.base)), config.seeds[0])
                 for m in config.methods]
    else:
        planned = plan_trials(grid_points(config, trials), trials)
        left = [t.point for t in planned if t.state in ("to run", "failed")]
        first = left or [t.point for t in planned]
        timed = [next(p for p in first if p.method == m) for m in config.methods
                 if any(p.method == m for p in first)]
    cache = open_prepared(config)
    if cache is not None:
        images = f"the cache {cache.root}"
    else:
        images = f"random images of {config.data.size} px: the cache is not prepared yet"
    n_source = source_training_images(config) if cache is None else None
    if cache is None and n_source is None:
        notes.append("steps per trial are known once the data is generated and prepared "
                     "(the first `study run` does it, or give data.cache)")
    elif cache is None:
        notes.append(f"{n_source} training images counted in {config.data.source} (before "
                     "any is skipped as unreadable)")
    timings = {point.method: time_steps(config, point, cache, n_source=n_source)
               for point in timed} if timing else {}
    outlook = (halving_outlook(config, halving_rungs(config, trials))
               if config.halving is not None else None)
    return StudyPlan(config=config, storage=redact_url(url), trials=planned,
                     search_left=search_left, timings=timings, images=images,
                     workers=workers, notes=notes, halving=outlook)
