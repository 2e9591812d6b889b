"""The Python API: each step of the pipeline as one typed function, for notebooks and for
researchers' own training loops. ``import xrayssl`` exposes these names (loaded on first use,
so the import stays light)::

    import xrayssl
    cache = xrayssl.prepare("data/knee", "caches/knee-64", size=64, body_part="knee")
    run = xrayssl.pretrain(cache, "runs/knee-simclr", epochs=20)    # the small-image recipe
    metrics = xrayssl.probe(run.encoder_path, cache, fractions=[0.1, 1.0])
    policy = xrayssl.Policy("crop(scale=0.3-1)+flip+chessboard")  # an nn.Module on batches
    views = policy(batch, torch.Generator().manual_seed(0))        # (B, 1, H, W) in [0, 1]
    results = xrayssl.Study.from_yaml("configs/demo.yaml").run()
    xrayssl.report(results.study_dir)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xrayssl.augment.spec import Policy as PolicyModule
from xrayssl.augment.spec import parse_policy
from xrayssl.config.base import validate
from xrayssl.config.data import SplitConfig
from xrayssl.config.pretrain import PretrainConfig
from xrayssl.config.probe import ProbeConfig
from xrayssl.config.study import StudyConfig, load_study_config
from xrayssl.data.cache import PreparedCache
from xrayssl.data.prepare import prepare_cache
from xrayssl.data.sources.combined import load_sources
from xrayssl.evaluate.run import evaluate_encoder
from xrayssl.findings.collect import collect, write_results
from xrayssl.findings.model import StudyResults
from xrayssl.models.encoders import load_encoder
from xrayssl.models.pretrain import PretrainResult, run_pretraining
from xrayssl.models.recipe import with_small_image_defaults
from xrayssl.report.html import build_report
from xrayssl.runs.folder import RunFolder
from xrayssl.runs.metrics_file import RunMetrics

__all__ = ["Policy", "Study", "prepare", "pretrain", "probe", "report", "results"]


def Policy(spec: str) -> PolicyModule:
    """The augmentation policy a spec names (``"crop+flip+chessboard"``): an ``nn.Module``
    called as ``policy(batch, generator)`` on float batches (B, C, H, W) in [0, 1], on any
    device, one random draw per sample from the seeded ``generator``."""
    return parse_policy(spec)


def prepare(sources: Path | str | Sequence[Path | str], out: Path | str, *, size: int = 224,
            clahe: dict[str, Any] | None = None, body_part: str | None = None,
            body_parts: Sequence[str] | None = None, patient_id: str | None = None,
            label_map: dict[str, int] | None = None, val_fraction: float = 0.15,
            test_fraction: float = 0.2, split_seed: int = 0, workers: int | None = None,
            progress: bool = False) -> PreparedCache:
    """Read one or several sources (MURA, AI Hub, class folders, CSV, ``.npz``, DICOM) and
    prepare them into a cache with train / val / test split by patient, as ``xrayssl
    prepare`` does; the same call again reuses the cache."""
    paths = [sources] if isinstance(sources, (str, Path)) else list(sources)
    listing = load_sources(paths, label_map=label_map, body_parts=body_parts,
                           body_part=body_part, patient_id=patient_id)
    splits = validate(SplitConfig, {"val_fraction": val_fraction,
                                    "test_fraction": test_fraction, "seed": split_seed},
                      "prepare splits")
    return prepare_cache(listing.records, out, size=size, clahe=clahe, workers=workers,
                         progress=progress, source_skipped=listing.skipped, splits=splits)


def _cache(cache: PreparedCache | Path | str) -> PreparedCache:
    return cache if isinstance(cache, PreparedCache) else PreparedCache.open(Path(cache))


def pretrain(cache: PreparedCache | Path | str, out: Path | str, *,
             progress: bool = False, **settings: Any) -> PretrainResult:
    """Self-supervised pretraining into the run folder ``out`` (``encoder.pt`` and the rest),
    as ``xrayssl pretrain``: ``settings`` are ``PretrainConfig`` fields (``method``,
    ``policy``, ``epochs``, ...); up to 96 px the small-image recipe fills those left out."""
    opened = _cache(cache)
    fields, _filled = with_small_image_defaults(dict(settings),
                                                settings.get("image_size") or opened.size)
    config = validate(PretrainConfig, {**fields, "progress": progress}, "pretrain settings")
    return run_pretraining(config, opened, Path(out))


def probe(encoder: Path | str, cache: PreparedCache | Path | str, *,
          probe_out: Path | str | None = None, **settings: Any) -> RunMetrics:
    """The linear probe of a frozen encoder (``encoder.pt`` or its run folder) on the cache's
    splits, as ``xrayssl probe``: ``settings`` are ``ProbeConfig`` fields (``fractions``,
    ``seeds``, ...). Returns what ``metrics.json`` holds; ``.estimate("auroc", 1.0,
    split="val")`` reads one number."""
    path = Path(encoder)
    if path.is_dir():
        path = RunFolder(path).encoder
    model, _meta = load_encoder(path)
    config = validate(ProbeConfig, settings, "probe settings")
    return evaluate_encoder(model, _cache(cache), config=config,
                            probe_out=None if probe_out is None else Path(probe_out))


def results(study_dir: Path | str) -> StudyResults:
    """A finished (or running) study's findings, read from its run folders."""
    return collect(Path(study_dir))


def report(study_dir: Path | str, out: Path | str | None = None) -> Path:
    """The study's one-page HTML report; returns its path."""
    return build_report(Path(study_dir), None if out is None else Path(out))


@dataclass
class Study:
    """A study config; ``run()`` runs (or continues) it and returns its findings."""

    config: StudyConfig

    @classmethod
    def from_yaml(cls, path: Path | str) -> Study:
        return cls(load_study_config(Path(path)))

    def run(self, progress: bool = False) -> StudyResults:
        import sys

        from xrayssl.study.runner import StudyRunner
        from xrayssl.study.trial import PipelineTrial, check_study, prepare_study_data

        check_study(self.config)
        cache = prepare_study_data(self.config, progress=progress)
        runner = StudyRunner(self.config, PipelineTrial(self.config, cache, progress=progress),
                             progress=sys.stderr if progress else None)
        runner.run()
        return write_results(self.config.study_dir)
