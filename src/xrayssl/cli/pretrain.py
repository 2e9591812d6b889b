"""CLI commands: pretrain."""

from __future__ import annotations

import typer

from xrayssl.cli.not_built import PASS_THROUGH, not_built


def register(app: typer.Typer) -> None:
    @app.command("pretrain", context_settings=PASS_THROUGH)
    def pretrain_command() -> None:
        """(not built yet)"""
        not_built("pretrain")

