"""CLI commands: synth (synthetic radiographs in the MURA v1.1 layout)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xrayssl.errors import XraySSLError


def register(app: typer.Typer) -> None:
    @app.command("synth")
    def synth_command(
        out: Annotated[Path | None, typer.Option(
            "--out", help="Folder to write MURA-v1.1/ and MURA-v1.1-masks/ into.")] = None,
        parts: Annotated[str, typer.Option(
            help="Comma-separated body parts (elbow,finger,forearm,hand,humerus,shoulder,wrist) "
                 "or 'all'.")] = "all",
        patients: Annotated[int, typer.Option(
            help="Patients in total, spread evenly over the parts.")] = 70,
        size: Annotated[int, typer.Option(help="Long side of each image, pixels.")] = 256,
        seed: Annotated[int, typer.Option(help="Same seed, same bytes.")] = 0,
        difficulty: Annotated[str, typer.Option(
            help="easy | medium | hard, or a number in [0, 1] (1 = most subtle lesions).")
        ] = "medium",
        valid_fraction: Annotated[float, typer.Option(
            help="Share of each part's patients held out as MURA's 'valid' split.")] = 0.2,
        positive_fraction: Annotated[float, typer.Option(
            help="Chance that a study is abnormal.")] = 0.4,
        workers: Annotated[int | None, typer.Option(
            min=1, help="Processes (default: all CPU cores).")] = None,
        sheet: Annotated[Path | None, typer.Option(
            help="Also draw a contact sheet PNG (normal + each abnormality, every part).")
        ] = None,
        overwrite: Annotated[bool, typer.Option(
            help="Replace an existing MURA-v1.1/ under --out.")] = False,
        quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    ) -> None:
        """Render synthetic upper-limb radiographs with lesion masks, laid out like MURA v1.1."""
        from xrayssl.synth import generate_dataset, parse_parts
        from xrayssl.synth.sheet import render_contact_sheet

        if out is None and sheet is None:
            raise XraySSLError("nothing to do: give --out DIR for a dataset and/or --sheet FILE")
        part_names = parse_parts(None if parts.strip().lower() == "all" else parts)
        if out is not None:
            root = generate_dataset(out, parts=part_names, patients=patients, size=size,
                                    seed=seed, difficulty=difficulty, workers=workers,
                                    progress=not quiet, valid_fraction=valid_fraction,
                                    positive_fraction=positive_fraction, overwrite=overwrite)
            typer.echo(f"wrote {root / 'MURA-v1.1'} and {root / 'MURA-v1.1-masks'}")
        if sheet is not None:
            path = render_contact_sheet(sheet, parts=part_names, seed=seed, size=size,
                                        difficulty=difficulty)
            typer.echo(f"wrote contact sheet {path}")
