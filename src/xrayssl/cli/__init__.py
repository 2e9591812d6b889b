"""The ``xrayssl`` command line: a thin layer over the library, one module per stage."""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError
from typer._click import exceptions as click_errors

from xrayssl.cli import augment, data, evaluate, explain, export, pretrain, study, synth
from xrayssl.cli.layout import CONTEXT_SETTINGS
from xrayssl.cli.stopping import stop_with_a_word
from xrayssl.config.base import describe_validation_error
from xrayssl.errors import Stopped, XraySSLError

app = typer.Typer(
    name="xrayssl",
    help="Find the data augmentations that make self-supervised learning work on X-rays.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings=CONTEXT_SETTINGS,
)

for module in (synth, data, augment, pretrain, export, evaluate, study, explain):
    module.register(app)


def _usage_message(err: click_errors.UsageError) -> str:
    """Click's message plus where to read the allowed values, on one line."""
    command = err.ctx.command_path if err.ctx is not None else "xrayssl"
    return f"{err.format_message()} (see `{command} --help`)"


def _say_error(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)


def run(args: list[str] | None = None) -> int:
    """Run the CLI on ``args`` (default: ``sys.argv[1:]``) and return the exit status.

    Every mistake in the user's input (a bad option value, a config that does not validate,
    a file that is not ours) is printed as one ``error:`` line, never as a traceback.
    """
    argv = list(sys.argv[1:] if args is None else args)
    try:
        with stop_with_a_word(argv):
            status = app(args=argv, prog_name="xrayssl", standalone_mode=False)
    except Stopped as err:
        typer.echo(str(err), err=True)
        return 130
    except click_errors.NoArgsIsHelpError as err:
        err.show()  # a bare group: its help, as click would print it
        return 2
    except click_errors.UsageError as err:
        _say_error(_usage_message(err))
        return 2
    except click_errors.ClickException as err:
        _say_error(err.format_message())
        return err.exit_code
    except typer.Abort:
        _say_error("interrupted")
        return 130
    except XraySSLError as err:
        _say_error(str(err))
        return 2
    except ValidationError as err:
        # A model checked outside the config loaders (e.g. a field set from an option).
        _say_error(describe_validation_error(err, "the options"))
        return 2
    return status if isinstance(status, int) else 0


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())
