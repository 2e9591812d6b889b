"""CLI command: pretrain (self-supervised pretraining of an encoder on a prepared cache)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from xrayssl.errors import XraySSLError
from xrayssl.runs.folder import RunFolder

if TYPE_CHECKING:
    from xrayssl.models.pretrain import PretrainResult


def parse_option_value(text: str) -> float | int | bool:
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise XraySSLError(f"--option value {text!r} is not a number or true/false") from None


def parse_method_options(items: list[str]) -> dict[str, float | int | bool]:
    options: dict[str, float | int | bool] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise XraySSLError(f"--option {item!r}: write NAME=VALUE, e.g. temperature=0.2")
        options[key.strip()] = parse_option_value(value)
    return options


def summary_lines(result: PretrainResult) -> list[str]:
    """The end of a run in words: last epoch, best monitor value, speed, where things are."""
    lines = []
    trained = [row for row in result.history if row.get("epoch", 0) >= 1]
    if trained:
        last = trained[-1]
        line = f"last epoch: {int(last['epoch'])}, loss {last['loss']:.4f}"
        monitor = "knn_auroc" if "knn_auroc" in last else "knn_accuracy"
        if monitor in last:
            line += f", {monitor} {last[monitor]:.3f}"
            best = max(result.history, key=lambda row: row.get(monitor, float("-inf")))
            line += f" (best {best[monitor]:.3f} at epoch {int(best['epoch'])})"
        lines.append(line)
    lines.append(result.monitor)
    lines.append(f"throughput: {result.pairs_per_second:.1f} pairs/s (this session)")
    lines.append(f"encoder: {result.encoder_path}")
    lines.append(f"per-epoch log: {RunFolder(result.out_dir).history}")
    return lines


def parse_devices(text: str) -> int | str:
    return int(text) if text.strip().isdigit() else text.strip()


def register(app: typer.Typer) -> None:
    @app.command("pretrain")
    def pretrain_command(
        data: Annotated[Path, typer.Option(help="a prepared cache (xrayssl prepare)")],
        policy: Annotated[str | None, typer.Option(
            help="augmentation spec of the views, e.g. 'crop+flip+blur' (see xrayssl augment); "
                 "up to 96 px the recipe's policy when left out"
        )] = None,
        method: Annotated[str | None, typer.Option(
            help="simclr | byol | moco | simsiam | vicreg | barlow")] = None,
        encoder: Annotated[str | None, typer.Option(
            help="resnet_tiny | resnet_tiny_wide | resnet18_small | resnet34_small | "
                 "resnet50_small | resnet18 | resnet34 | resnet50 | timm:<model> (default: "
                 "resnet_tiny up to 96 px, else resnet18)")] = None,
        policy_b: Annotated[str | None, typer.Option(
            help="second view's spec (asymmetric views); default: same as --policy")] = None,
        epochs: Annotated[int | None, typer.Option(min=1)] = None,
        batch_size: Annotated[int | None, typer.Option(min=2, help="per device")] = None,
        lr: Annotated[float | None, typer.Option(help="default: scaled by global batch")] = None,
        optimizer: Annotated[str | None, typer.Option(help="adamw | lars")] = None,
        image_size: Annotated[int | None, typer.Option(
            help="train at this side (default: the cache's)")] = None,
        weights: Annotated[Path | None, typer.Option(
            help="local ImageNet .pth to start from (RGB stem summed to one channel)")] = None,
        devices: Annotated[str | None, typer.Option(help="auto, a count, or ids like 0,1")] = None,
        num_nodes: Annotated[int | None, typer.Option(min=1)] = None,
        strategy: Annotated[str | None, typer.Option(help="auto | ddp | ...")] = None,
        accelerator: Annotated[str | None, typer.Option(help="auto | cpu | gpu")] = None,
        precision: Annotated[str | None, typer.Option(
            help="auto | 32-true | 16-mixed | bf16-mixed")] = None,
        compile_model: Annotated[bool | None, typer.Option(
            "--compile/--no-compile",
            help="torch.compile the encoder and heads (faster steps after a compile of "
                 "some seconds)")] = None,
        workers: Annotated[int | None, typer.Option(min=0, help="DataLoader processes")] = None,
        threads: Annotated[int | None, typer.Option(
            min=1, help="torch CPU threads (default: one per core); a run repeats bit for bit "
                        "with the same count")] = None,
        body_parts: Annotated[str | None, typer.Option(
            help="comma-separated body parts (default: all)")] = None,
        multi_view: Annotated[bool | None, typer.Option(
            help="positives from two images of one study (MICLe)")] = None,
        option: Annotated[list[str] | None, typer.Option(
            help="method option NAME=VALUE (repeatable), e.g. temperature=0.2")] = None,
        seed: Annotated[int | None, typer.Option()] = None,
        config: Annotated[Path | None, typer.Option(help="PretrainConfig YAML")] = None,
        out: Annotated[Path, typer.Option(help="run folder")] = Path("runs/pretrain"),
        resume: Annotated[bool, typer.Option(
            help="continue the run in --out from its newest checkpoint")] = False,
        no_monitor: Annotated[bool, typer.Option(
            "--no-monitor", help="skip the per-epoch kNN monitor")] = False,
        deterministic: Annotated[bool, typer.Option(help="deterministic algorithms")] = False,
        quiet: Annotated[bool, typer.Option(
            help="no progress (a bar on a terminal, else one line per epoch)")] = False,
        logger: Annotated[str | None, typer.Option(
            help="csv | tensorboard | mlflow | wandb: a tracker beside the CSV log, offline, "
                 "in --out")] = None,
    ) -> None:
        """Self-supervised pretraining -> OUT/encoder.pt (+ checkpoints, log.csv, pretrain.json)."""
        from xrayssl.config.base import load_yaml, validate
        from xrayssl.config.pretrain import PretrainConfig
        from xrayssl.data.cache import PreparedCache
        from xrayssl.models.encoders import size_hint
        from xrayssl.models.pretrain import run_pretraining
        from xrayssl.models.recipe import SMALL_IMAGE_MAX, with_small_image_defaults

        fields: dict[str, Any] = {}
        if config is not None:
            fields = load_yaml(PretrainConfig, config).model_dump(exclude_unset=True)
        given: dict[str, Any] = {
            "policy": policy, "method": method, "encoder": encoder, "policy_b": policy_b,
            "epochs": epochs, "batch_size": batch_size, "lr": lr, "optimizer": optimizer,
            "image_size": image_size, "weights": weights, "num_nodes": num_nodes,
            "strategy": strategy, "accelerator": accelerator, "precision": precision,
            "workers": workers, "multi_view": multi_view, "seed": seed, "logger": logger,
            "threads": threads, "compile": compile_model,
        }
        fields.update({k: v for k, v in given.items() if v is not None})
        if devices is not None:
            fields["devices"] = parse_devices(devices)
        if body_parts is not None:
            fields["body_parts"] = [p.strip() for p in body_parts.split(",") if p.strip()]
        if option:
            fields["method_options"] = {**fields.get("method_options", {}),
                                        **parse_method_options(option)}
        if "|" in str(fields.get("policy", "")):  # the two-view spelling "A | B" of --policy-b
            from xrayssl.augment.views import split_views

            if fields.get("policy_b") is not None:
                raise XraySSLError("--policy 'A | B' already names both views; drop --policy-b")
            fields["policy"], fields["policy_b"] = split_views(str(fields["policy"]))
        fields.update(resume=resume, progress=not quiet)
        if no_monitor:
            fields["monitor"] = False
        if deterministic:
            fields["deterministic"] = True
        cache = PreparedCache.open(data)
        fields, filled = with_small_image_defaults(fields, fields.get("image_size") or cache.size)
        if filled:
            typer.echo(f"small images: the CPU-budget recipe sets {', '.join(filled)} "
                       "(xrayssl.models.recipe); give them to choose otherwise")
        if "policy" not in fields:
            raise XraySSLError(
                f"give --policy SPEC (e.g. 'crop+flip'), or a --config with policy: above "
                f"{SMALL_IMAGE_MAX} px no recipe chooses one (this cache is {cache.size} px)")
        settings = validate(PretrainConfig, fields, "pretrain options")
        hint = size_hint(settings.encoder, settings.image_size or cache.size)
        if hint is not None:
            typer.secho(f"warning: {hint}", fg=typer.colors.YELLOW, err=True)
        result = run_pretraining(settings, cache, out)
        for line in summary_lines(result):
            typer.echo(line)
