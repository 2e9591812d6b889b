"""How every command's help is laid out.

Plain click help (no rich panels): rich's option table squeezes the help column into one word
per line at 80 columns, while click's two-column layout keeps sentences readable.
"""

from __future__ import annotations

from typing import Any

import typer

CONTEXT_SETTINGS: dict[str, Any] = {"max_content_width": 100}


def command_group(name: str, help_text: str) -> typer.Typer:
    """A sub-command group laid out like the top-level ``xrayssl`` help."""
    return typer.Typer(name=name, help=help_text, no_args_is_help=True, rich_markup_mode=None,
                       context_settings=CONTEXT_SETTINGS)
