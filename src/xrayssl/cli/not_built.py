"""A subcommand that is not built yet says so and exits non-zero; it never pretends."""

from __future__ import annotations

import typer


def not_built(command: str) -> None:
    typer.secho(f"xrayssl {command}: not built yet in this version.", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=3)


PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}
