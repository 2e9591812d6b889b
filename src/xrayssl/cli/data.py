"""CLI commands: prepare."""

from __future__ import annotations

import typer

from xrayssl.cli.not_built import PASS_THROUGH, not_built


def register(app: typer.Typer) -> None:
    @app.command("prepare", context_settings=PASS_THROUGH)
    def prepare_command() -> None:
        """(not built yet)"""
        not_built("prepare")

