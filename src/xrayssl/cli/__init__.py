"""The ``xrayssl`` command line: a thin layer over the library, one module per stage."""

from __future__ import annotations

import sys

import typer

from xrayssl.cli import augment, data, evaluate, explain, export, pretrain, study, synth
from xrayssl.errors import XraySSLError

app = typer.Typer(
    name="xrayssl",
    help="Find the data augmentations that make self-supervised learning work on X-rays.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for module in (synth, data, augment, pretrain, export, evaluate, study, explain):
    module.register(app)


def main() -> None:
    """Console-script entry point: user errors print one message, not a traceback."""
    try:
        app()
    except XraySSLError as err:
        typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
        sys.exit(2)
