"""CLI commands: gradcam report."""

from __future__ import annotations

import typer

from xrayssl.cli.not_built import PASS_THROUGH, not_built


def register(app: typer.Typer) -> None:
    @app.command("gradcam", context_settings=PASS_THROUGH)
    def gradcam_command() -> None:
        """(not built yet)"""
        not_built("gradcam")

    @app.command("report", context_settings=PASS_THROUGH)
    def report_command() -> None:
        """(not built yet)"""
        not_built("report")

