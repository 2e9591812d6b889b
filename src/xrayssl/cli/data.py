"""CLI commands: prepare."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated

import typer

from xrayssl.config.data import MIN_SIZE
from xrayssl.errors import XraySSLError


def _split_list(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [part for value in values for part in value.split(",") if part.strip()]


def register(app: typer.Typer) -> None:
    @app.command("prepare")
    def prepare_command(
        sources: Annotated[list[Path], typer.Argument(
            metavar="SOURCE...",
            help="one or more of: MURA root (holding MURA-v1.1/), AI Hub release folder, class "
                 "folders, CSV manifest, .npz or DICOM folder; several go into one cache")],
        out: Annotated[Path, typer.Option("--out", help="cache folder to write")],
        size: Annotated[int, typer.Option(help="side of the square cached images")] = 224,
        clahe: Annotated[str | None, typer.Option(
            help="CLAHE settings, e.g. clip=2.0,tile=8, or 'off'")] = None,
        workers: Annotated[int | None, typer.Option(
            min=1, help="processes (default: all cores)")] = None,
        preview: Annotated[Path | None, typer.Option(
            help="also write a before/after CLAHE figure (PNG) here")] = None,
        body_parts: Annotated[list[str] | None, typer.Option(
            "--body-parts",
            help="keep only these body parts (comma-separated or repeated)")] = None,
        body_part: Annotated[str | None, typer.Option(
            "--body-part",
            help="body part of images whose source names none (class folders, .npz), e.g. "
                 "knee; shown in tables and the report instead of 'unknown'")] = None,
        label_map: Annotated[str | None, typer.Option(
            help="folder/CSV label names -> 0/1, e.g. normal=0,abnormal=1")] = None,
        patient_id: Annotated[str | None, typer.Option(
            "--patient-id", metavar="REGEX",
            help="read each image's patient from its file name (the first group, else the "
                 r"whole match), e.g. '^(\d+)[LR]$' for 9001234L.png; without it class "
                 "folders make each file its own patient")] = None,
        kind: Annotated[str | None, typer.Option(
            help="force the source layout of every SOURCE: mura, aihub, folders, manifest, npz "
                 "or dicom")] = None,
        val_fraction: Annotated[float, typer.Option(
            help="share of the training images carved out (by patient) as val, when the "
                 "source has no val split besides its test split")] = 0.15,
        test_fraction: Annotated[float, typer.Option(
            help="share of the images carved out (by patient) as test, when the source has "
                 "neither a test nor a validation split")] = 0.2,
        split_seed: Annotated[int, typer.Option(help="seed of the carved splits")] = 0,
        overwrite: Annotated[bool, typer.Option(
            help="replace a finished cache at --out made with another config")] = False,
        quiet: Annotated[bool, typer.Option(help="no progress bar")] = False,
    ) -> None:
        """Decode, resize (aspect kept, padded) and CLAHE every image into one uint8 cache.

        Several SOURCEs (e.g. a MURA root and an AI Hub release) go into one cache; each record
        keeps its source and body parts of different sources stay apart."""
        from xrayssl.config.base import validate
        from xrayssl.config.data import (
            PrepareConfig,
            SplitConfig,
            parse_clahe,
            parse_label_map,
        )
        from xrayssl.data.checks import DataWarning
        from xrayssl.data.prepare import prepare
        from xrayssl.data.preview import write_clahe_preview
        from xrayssl.data.sources.combined import load_sources

        if size < MIN_SIZE:
            raise XraySSLError(
                f"--size {size}: the smallest cache side is {MIN_SIZE} px (smaller images leave "
                "the encoders a 1x1 feature map after their stem, and crops nothing to "
                f"crop); give --size {MIN_SIZE} or more"
            )
        clahe_config = parse_clahe(clahe)
        config = validate(
            PrepareConfig, {"size": size, "clahe": clahe_config.model_dump()}, "prepare options"
        )
        split_config = validate(SplitConfig, {"val_fraction": val_fraction,
                                              "test_fraction": test_fraction,
                                              "seed": split_seed},
                                "--val-fraction (0..0.5), --test-fraction (0..0.5), --split-seed")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DataWarning)
            listing = load_sources(sources, kind=kind, label_map=parse_label_map(label_map),
                                   body_parts=_split_list(body_parts), body_part=body_part,
                                   patient_id=patient_id)
            for source, count in listing.counts.items():
                typer.echo(f"{source}: {count} images listed")
            if len(sources) > 1:
                for name, parts in listing.sources().items():
                    typer.echo(f"  {name}: {', '.join(parts)}")
            result = prepare(listing.records, out, config, workers=workers, progress=not quiet,
                             overwrite=overwrite, source_skipped=listing.skipped,
                             splits=split_config)
        for warning in caught:
            if issubclass(warning.category, DataWarning):
                typer.secho(f"warning: {warning.message}", fg=typer.colors.YELLOW, err=True)
        typer.echo(result.summary())
        if preview is not None:
            written = write_clahe_preview(result.cache.records, preview, size=size,
                                          clahe=clahe_config)
            typer.echo(f"preview: {written}")
