"""CLI commands: study demo."""

from __future__ import annotations

import typer

from xrayssl.cli.not_built import PASS_THROUGH, not_built


def register(app: typer.Typer) -> None:
    @app.command("study", context_settings=PASS_THROUGH)
    def study_command() -> None:
        """(not built yet)"""
        not_built("study")

    @app.command("demo", context_settings=PASS_THROUGH)
    def demo_command() -> None:
        """(not built yet)"""
        not_built("demo")

