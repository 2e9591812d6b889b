"""CLI commands: probe (linear-probe evaluation and baselines), probe-table (print results)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from xrayssl.cli.status_line import StatusLine
from xrayssl.config.base import load_yaml
from xrayssl.config.probe import ProbeConfig
from xrayssl.errors import XraySSLError
from xrayssl.runs.folder import ENCODER_FILE, RunFolder
from xrayssl.runs.metrics_file import METRICS_FILE, RunIdentity, RunMetrics


def parse_fractions(text: str) -> list[float]:
    """``"0.01,0.1,1"`` -> [0.01, 0.1, 1.0]; each a share of the training labels in (0, 1]."""
    allowed = "label fractions in (0, 1], comma-separated, e.g. 0.01,0.1,1"
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise XraySSLError(f"--fractions {text!r}: give {allowed}") from None
    bad = [value for value in values if not 0 < value <= 1]
    if bad or not values:
        found = f" ({', '.join(f'{v:g}' for v in bad)} outside)" if bad else ""
        raise XraySSLError(f"--fractions {text!r}: give {allowed}{found}")
    return values


def parse_columns(text: str) -> tuple[str, ...]:
    """``"auroc,kappa"`` -> ("auroc", "kappa"), each a metric the probe writes."""
    from xrayssl.evaluate.table import DEFAULT_COLUMNS

    wanted = tuple(c.strip() for c in text.split(",") if c.strip())
    unknown = [c for c in wanted if c not in DEFAULT_COLUMNS]
    if unknown or not wanted:
        raise XraySSLError(f"--columns {text!r}: choose from {', '.join(DEFAULT_COLUMNS)}")
    return wanted


def read_metrics(path: Path) -> RunMetrics:
    if not path.is_file():
        raise XraySSLError(f"metrics file not found: {path}")
    return RunMetrics.read(path)


def register(app: typer.Typer) -> None:
    @app.command("probe")
    def probe_command(
        data: Annotated[Path, typer.Option(help="a prepared cache (xrayssl prepare)")],
        encoder: Annotated[Path | None, typer.Option(
            help=f"{ENCODER_FILE} to evaluate, or a run folder holding one")] = None,
        baseline: Annotated[str | None, typer.Option(
            help="instead of --encoder: raw | random | imagenet | supervised | "
                 "imagenet-linear (frozen ImageNet encoder + trained linear head)")] = None,
        encoder_name: Annotated[str, typer.Option(
            help="architecture for random/imagenet/supervised baselines")] = "resnet18",
        weights: Annotated[Path | None, typer.Option(
            help="local ImageNet weights (.pth) for the imagenet/supervised baselines")] = None,
        fractions: Annotated[str | None, typer.Option(
            help="label fractions, e.g. 0.01,0.1,1")] = None,
        body_parts: Annotated[str | None, typer.Option(
            help="comma-separated body parts (default: all)")] = None,
        seeds: Annotated[int | None, typer.Option(
            min=1, help="label subsets per fraction below 1")] = None,
        config: Annotated[Path | None, typer.Option(help="ProbeConfig YAML")] = None,
        epochs: Annotated[int | None, typer.Option(min=1, help="supervised epochs")] = None,
        policy: Annotated[str | None, typer.Option(
            help="augmentation spec for supervised training")] = None,
        out: Annotated[Path, typer.Option(help=f"where {METRICS_FILE} goes")] = Path(METRICS_FILE),
        probe_out: Annotated[Path | None, typer.Option(
            help="save the probe fitted on all training labels (JSON)")] = None,
        label: Annotated[str | None, typer.Option(help="row name in tables")] = None,
        feature_cache: Annotated[Path | None, typer.Option(
            help="folder for cached features (default: none)")] = None,
        device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:1 ...")] = None,
        quiet: Annotated[bool, typer.Option(help="no progress messages")] = False,
    ) -> None:
        """Linear-probe an encoder (or a baseline) at several label fractions -> metrics.json."""
        from xrayssl.data.cache import PreparedCache
        from xrayssl.evaluate.run import evaluate_encoder, evaluate_floor
        from xrayssl.evaluate.table import format_splits

        if (encoder is None) == (baseline is None):
            raise XraySSLError("give exactly one of --encoder ENC.pt or --baseline KIND")
        settings = load_yaml(ProbeConfig, config) if config else ProbeConfig()
        if fractions is not None:
            settings.fractions = parse_fractions(fractions)
        if body_parts is not None:
            settings.body_parts = [p.strip() for p in body_parts.split(",") if p.strip()]
        if seeds is not None:
            settings.seeds = seeds
        if epochs is not None:
            settings.supervised.epochs = epochs
        if policy is not None:
            settings.supervised.policy = policy
        cache = PreparedCache.open(data)

        say = StatusLine(quiet=quiet)

        if encoder is not None:
            from xrayssl.evaluate.features import file_sha256
            from xrayssl.models.encoders import load_encoder

            if encoder.is_dir():  # a run folder, as export and gradcam accept
                encoder = RunFolder(encoder).encoder
            model, meta = load_encoder(encoder)
            key = file_sha256(encoder)
            method = meta.get("method") or meta.get("config", {}).get("method")
            description = {"encoder_file": str(encoder), "encoder_sha256": key, "meta": meta,
                           "method": method}
            run = RunIdentity(kind="probe", method=None if method is None else str(method),
                              label=label)
            result = evaluate_encoder(model, cache, config=settings, model=description, run=run,
                                      feature_cache_dir=feature_cache, encoder_key=key,
                                      probe_out=probe_out, device=device, progress=say)
        else:
            assert baseline is not None
            result = evaluate_floor(baseline, cache, encoder_name=encoder_name,
                                       config=settings, weights=weights, device=device,
                                       feature_cache_dir=feature_cache, progress=say)
            result.run.label = label
        say.close()
        result.write(out)
        print(format_splits([result], title=f"{data} (image level, {settings.ci_level:.0%} CI)"))
        print(f"wrote {out}")

    @app.command("probe-table")
    def probe_table_command(
        metrics: Annotated[list[Path], typer.Argument(help="metrics.json files")],
        level: Annotated[str, typer.Option(help="image or study")] = "image",
        body_part: Annotated[str | None, typer.Option(help="one body part")] = None,
        columns: Annotated[str, typer.Option(help="metrics to show")] = "auroc,kappa",
        compare_to: Annotated[Path | None, typer.Option(
            help="a metrics.json to compare every file with (paired bootstrap on AUROC)")] = None,
    ) -> None:
        """Print one table from several metrics.json files (and paired comparisons)."""
        from xrayssl.evaluate.compare import compare_metrics
        from xrayssl.evaluate.table import format_splits

        if level not in ("image", "study"):
            raise XraySSLError(f"--level {level!r}: choose image or study")
        chosen: Literal["image", "study"] = "image" if level == "image" else "study"
        wanted = parse_columns(columns)
        results = [read_metrics(p) for p in metrics]
        print(format_splits(results, level=chosen, body_part=body_part, columns=wanted))
        if compare_to is not None:
            reference = read_metrics(compare_to)
            for path, result in zip(metrics, results, strict=True):
                if path.resolve() == compare_to.resolve() or result == reference:
                    print(f"{path}: the reference (not compared with itself)")
                    continue
                for line in compare_metrics(reference, result):
                    print(f"{path}: {line}")
