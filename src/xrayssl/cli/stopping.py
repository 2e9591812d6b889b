"""Ctrl-C and SIGTERM stop a command with a word, not in silence.

The first signal says at once that the command is stopping (a study, a pretraining or a prepare
keeps what it finished: trials, epochs, images); the command then ends with "stopped; run the
same command to continue". Without this, SIGTERM killed the process without a word, and a
Ctrl-C inside Lightning's fit became a bare ``sys.exit(1)``.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType

from click import exceptions as click_exceptions

from xrayssl.errors import Stopped

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def continue_hint(args: Sequence[str]) -> str:
    """How to continue the stopped command ``xrayssl ARGS``."""
    command = " ".join(["xrayssl", *args])
    if args and args[0] == "pretrain" and "--resume" not in args:
        return f"run it again with --resume to continue from the last finished epoch: {command} " \
            "--resume"
    return f"run the same command to continue: {command}"


@contextmanager
def stop_with_a_word(args: Sequence[str]) -> Iterator[None]:
    """Turn SIGINT and SIGTERM into a stop that says so; raises ``Stopped`` at the end."""
    received: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        if len(received) == 1:
            name = signal.Signals(signum).name
            print(f"\n{name}: stopping (finished work is kept) ...", file=sys.stderr, flush=True)
        raise KeyboardInterrupt

    previous = {s: signal.getsignal(s) for s in SIGNALS}
    try:
        for s in SIGNALS:
            signal.signal(s, on_signal)
    except ValueError:  # not the main thread (an embedding caller): leave signals alone
        yield
        return
    stopped = f"stopped; {continue_hint(args)}"
    try:
        yield
        if received:  # typer answers KeyboardInterrupt with exit status 130, not an exception
            raise Stopped(stopped)
    except KeyboardInterrupt:
        raise Stopped(stopped) from None
    except (SystemExit, click_exceptions.Abort):
        # Lightning answers a KeyboardInterrupt inside fit with sys.exit(1) after its teardown;
        # click turns one into Abort.
        if not received:
            raise
        raise Stopped(stopped) from None
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
