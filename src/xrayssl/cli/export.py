"""CLI command: export (an encoder for torchvision, timm, ONNX Runtime or TorchScript)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xrayssl.errors import XraySSLError


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export_command(
        encoder: Annotated[Path, typer.Argument(
            metavar="ENCODER", help="encoder.pt of a pretraining run (or its run folder)")],
        fmt: Annotated[str, typer.Option(
            "--format", help="torchvision | timm | onnx | torchscript")],
        out: Annotated[Path | None, typer.Option(
            help="output file (default: beside ENCODER, e.g. encoder.onnx)")] = None,
    ) -> None:
        """Write ENCODER as a plain torchvision/timm state_dict, an ONNX file or TorchScript."""
        from xrayssl.models.encoders import load_encoder
        from xrayssl.models.export import FORMATS, default_output, export_encoder, input_recipe
        from xrayssl.runs.folder import RunFolder

        if fmt not in FORMATS:
            raise XraySSLError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
        path = RunFolder(encoder).encoder if encoder.is_dir() else encoder
        model, _ = load_encoder(path)
        target = out or default_output(path, fmt)
        export_encoder(model, fmt, target)
        typer.echo(f"wrote {target} ({fmt}, encoder {model.spec['name']})")
        typer.echo(input_recipe(model, fmt))
