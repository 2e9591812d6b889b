"""One trial of a study: pretrain -> linear probe (metrics per body part) -> the trial's folder.

``runs/<study>/<trial>/``::

    config.yaml     the grid point and the exact pretrain/probe settings
    checkpoints/    pretraining checkpoints (a re-run trial resumes from the newest)
    log.csv         one row per pretraining epoch (loss, lr, kNN monitor, pairs/s)
    encoder.pt      the pretrained encoder alone
    probe.json      the probe fitted on 100% of the training labels (for Grad-CAM)
    metrics.json    AUROC/kappa/... with CIs per label fraction and body part, and predictions

Every file is written atomically by the stage that makes it; ``metrics.json`` is written last,
so a folder with it is a finished trial and a re-run of that trial only reads it back.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from typing import Any

import pytorch_lightning as pl

from xrayssl.augment.params import op_text
from xrayssl.config.base import validate
from xrayssl.config.pretrain import PretrainConfig
from xrayssl.config.probe import ProbeConfig
from xrayssl.config.study import ObjectiveSettings, StudyConfig
from xrayssl.data.cache import PreparedCache
from xrayssl.errors import XraySSLError
from xrayssl.runs.folder import RunFolder, StudyFolder
from xrayssl.runs.metrics_file import RunMetrics
from xrayssl.runs.trial_config import TrialConfig
from xrayssl.study.floor_trials import floor_encoder, floor_kind, floor_probe_config
from xrayssl.study.grid import policy_pairs
from xrayssl.study.halving import rung_of
from xrayssl.study.runner import TrialContext, TrialOutcome
from xrayssl.study.space import GridPoint, PolicyPair, compose
from xrayssl.study.storage import file_lock


def prepare_study_data(config: StudyConfig, progress: bool = True) -> PreparedCache:
    """Open the study's prepared cache, generating and preparing it first when needed."""
    from xrayssl.data.prepare import prepare_cache
    from xrayssl.data.sources.combined import load_sources
    from xrayssl.data.sources.mura import load_mura

    data = config.data
    if data.cache is not None:
        return PreparedCache.open(data.cache)
    cache_dir = data.cache_dir or StudyFolder(config.study_dir).cache
    with file_lock(config.study_dir / ".data.lock"):
        if data.synth is not None:
            from xrayssl.synth import generate_dataset

            source = StudyFolder(config.study_dir).synth
            if not (source / "MURA-v1.1").is_dir():
                generate_dataset(
                    source, parts=data.body_parts, patients=data.synth.patients,
                    size=data.synth.size, seed=data.synth.seed, progress=progress,
                    **data.synth.options,
                )
            records, skipped = load_mura(source, body_parts=data.body_parts), []
        else:
            paths = data.sources if data.sources is not None else [data.source]
            listing = load_sources([p for p in paths if p is not None],
                                   body_parts=data.body_parts, body_part=data.body_part,
                                   patient_id=data.patient_id)
            records, skipped = listing.records, listing.skipped
        clahe = None if data.clahe else {"enabled": False}
        return prepare_cache(records, cache_dir, size=data.size, clahe=clahe, progress=progress,
                             source_skipped=skipped, splits=data.splits)


def pretrain_config(config: StudyConfig, point: GridPoint, progress: bool) -> PretrainConfig:
    fields: dict[str, Any] = {
        "body_parts": config.data.body_parts,
        "progress": progress,
        **config.pretrain,
        **config.pretrain_by_method.get(point.method, {}),
        "method": point.method,
        "policy": point.policy.view1,
        "policy_b": point.policy.view2,
        "seed": point.seed,
        "resume": True,  # a re-run trial continues from its own checkpoints
    }
    if point.epochs is not None:  # a halving rung: its own epochs, its own schedule
        fields["epochs"] = point.epochs
    return validate(PretrainConfig, fields, f"study {config.name}: pretrain")


def probe_config(config: StudyConfig) -> ProbeConfig:
    fields = {"body_parts": config.data.body_parts, **config.probe}
    probe = validate(ProbeConfig, fields, f"study {config.name}: probe")
    if not any(abs(f - config.objective.fraction) < 1e-9 for f in probe.fractions):
        raise XraySSLError(
            f"study {config.name}: objective.fraction {config.objective.fraction:g} is not among "
            f"probe.fractions {probe.fractions}; add it there"
        )
    return probe


def check_study(config: StudyConfig) -> None:
    """Fail before the first trial on what would fail in every trial: names and settings."""
    from xrayssl.augment.spec import parse_policy
    from xrayssl.models.encoders import check_encoder_name
    from xrayssl.models.methods import check_method

    for method in [*config.methods, *config.pretrain_by_method]:  # a typo says "did you mean"
        check_method(method)
    probe_config(config)
    if config.space.kind == "search":
        pairs = [PolicyPair(compose(config.space.base))]
        specs = {compose(config.space.base), *config.space.ops}
        # The ends of every searched strength: a misnamed parameter fails now, not per trial.
        specs |= {
            op_text(op, [(name, bound[end]) for name, bound in sorted(ranges.items())])
            for op, ranges in config.space.strengths.items()
            for end in (0, 1)
        }
    else:
        pairs = policy_pairs(config)
        specs = {p.view1 for p in pairs} | {p.view2 for p in pairs if p.view2 is not None}
    for method in config.methods:  # each method may have settings of its own
        pretrain = pretrain_config(config, GridPoint(method, pairs[0], 0), progress=False)
        where = f"study {config.name}: pretrain ({method})"
        try:
            check_encoder_name(pretrain.encoder)
            check_method(method, pretrain.method_options)
        except XraySSLError as err:
            raise XraySSLError(f"{where}: {err}") from None
    for spec in sorted(specs):
        try:
            parse_policy(spec)
        except XraySSLError as err:
            raise XraySSLError(f"study {config.name}: policy {spec!r}: {err}") from None


def objective_value(metrics: RunMetrics, objective: ObjectiveSettings) -> float:
    """The number a trial is ranked by, read from the val scores of its metrics.json
    (selection never reads test)."""
    if metrics.at(objective.fraction) is None:
        raise XraySSLError(f"no results at label fraction {objective.fraction:g}")
    scores = metrics.scores(objective.fraction, "val")
    if scores is None:
        raise XraySSLError(
            "these metrics have no val scores (made before the train/val/test protocol); "
            "run the trial again in a fresh runs_dir"
        )
    if scores.overall.level(objective.level) is None:
        raise XraySSLError(
            f"no {objective.level}-level metrics (the val split may have one image per "
            "study); set objective.level to image"
        )
    estimate = scores.estimate(objective.metric, objective.level)
    if estimate is None or estimate.value is None:
        raise XraySSLError(f"metric {objective.metric} is undefined on the val split")
    return float(estimate.value)


class MonitorReporter(pl.Callback):
    """Hands each epoch's kNN monitor to the study (which may prune the trial)."""

    def __init__(self, report: Callable[[int, float], None]) -> None:
        self.report = report

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        from xrayssl.models.history import EpochRecorder

        for callback in trainer.callbacks:  # type: ignore[attr-defined]
            if isinstance(callback, EpochRecorder) and callback.history:
                row = callback.history[-1]
                value = row.get("knn_auroc", row.get("knn_accuracy"))
                if value is not None:
                    self.report(int(row["epoch"]), float(value))


class PipelineTrial:
    """The real trial function: prepared cache in, finished run folder out."""

    def __init__(self, config: StudyConfig, cache: PreparedCache, progress: bool = True) -> None:
        self.config = config
        self.cache = cache
        self.progress = progress

    def __call__(self, ctx: TrialContext) -> TrialOutcome:
        from xrayssl.evaluate.run import evaluate_encoder
        from xrayssl.models.encoders import load_encoder
        from xrayssl.models.pretrain import run_pretraining

        folder = ctx.trial_dir
        folder.mkdir(parents=True, exist_ok=True)
        run = RunFolder(folder)
        if run.metrics.is_file():  # finished before its worker died: only read it back
            return self._outcome(run.read_metrics())
        if floor_kind(ctx.point) is not None:
            metrics = self._run_floor(ctx)
            run.write_metrics(metrics)
            return self._outcome(metrics)
        pretrain = pretrain_config(self.config, ctx.point, self.progress)
        probe = probe_config(self.config)
        rung = rung_of(self.config, ctx.point)
        trial = TrialConfig(
            study=self.config.name, key=ctx.point.key, method=ctx.point.method,
            policy=ctx.point.policy.view1, policy_b=ctx.point.policy.view2, seed=ctx.point.seed,
            rung=rung, epochs=ctx.point.epochs,
            pretrain=pretrain.model_dump(mode="json"), probe=probe.model_dump(mode="json"),
            objective=self.config.objective.model_dump(mode="json"),
        )
        run.write_config(trial)
        if not run.pretraining_finished(pretrain.epochs):
            run_pretraining(pretrain, self.cache, folder, callbacks=[MonitorReporter(ctx.report)])
        encoder, _meta = load_encoder(run.encoder)
        say = (lambda msg: print(f"  probe: {msg}", file=sys.stderr)) if self.progress else None
        identity = trial.identity(epochs=pretrain.epochs)
        metrics = evaluate_encoder(
            encoder, self.cache, config=probe, probe_out=run.probe, progress=say,
            model=identity.description(trial=folder.name, encoder=str(run.encoder)),
            run=identity,
        )
        run.write_metrics(metrics)
        if not self.config.runner.keep_checkpoints:
            # A finished trial never resumes: its checkpoints (hundreds of MB at 224 px) go,
            # the encoder, probe, pretraining record and logs stay.
            shutil.rmtree(run.checkpoints, ignore_errors=True)
        return self._outcome(metrics)

    def _run_floor(self, ctx: TrialContext) -> RunMetrics:
        """A floor's trial: the same cache, splits and label fractions, no pretraining."""
        from xrayssl.evaluate.run import evaluate_floor

        kind = floor_kind(ctx.point)
        assert kind is not None
        probe = floor_probe_config(probe_config(self.config), ctx.point)
        encoder = floor_encoder(self.config)
        TrialConfig(
            study=self.config.name, key=ctx.point.key, method=ctx.point.method,
            policy=ctx.point.policy.view1, seed=ctx.point.seed, baseline=kind,
            pretrain={} if kind == "raw" else {"encoder": encoder},
            probe=probe.model_dump(mode="json"),
            objective=self.config.objective.model_dump(mode="json"),
        ).write(RunFolder(ctx.trial_dir).config)
        say = (lambda msg: print(f"  {kind} floor: {msg}", file=sys.stderr)) \
            if self.progress else None
        metrics = evaluate_floor(kind, self.cache, encoder_name=encoder, config=probe,
                                    progress=say)
        metrics.run.key, metrics.run.seed = ctx.point.key, ctx.point.seed
        metrics.model["trial"] = ctx.trial_dir.name
        return metrics

    def _outcome(self, metrics: RunMetrics) -> TrialOutcome:
        value = objective_value(metrics, self.config.objective)
        summary: dict[str, float] = {str(self.config.objective.metric): value}
        return TrialOutcome(value=value, summary=summary)
