"""Progress messages of slow phases on stderr, fit for a terminal and for a log file.

A message that starts with two spaces is a detail (a cross-validation fold, one Grad-CAM
model): on a terminal it overwrites the line before it; in a log (nohup, SLURM: stderr is
not a tty) details are written as plain lines, at most one every ``DETAIL_SECONDS``, so a
log shows that a slow phase is alive without filling up. Other messages are always a line.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

DETAIL_SECONDS = 15.0


class StatusLine:
    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.monotonic()
        self.last_detail = -DETAIL_SECONDS
        self.open_line = False  # a detail is showing on the terminal, without its newline

    def __call__(self, message: str) -> None:
        if self.quiet:
            return
        stamp = f"[{time.monotonic() - self.started:6.0f} s] "
        if message.startswith("  "):
            if self.tty:
                self.stream.write(f"\r\x1b[K{stamp}{message.strip()}")
                self.open_line = True
            elif time.monotonic() - self.last_detail >= DETAIL_SECONDS:
                self.stream.write(f"{stamp}{message}\n")
                self.last_detail = time.monotonic()
            self.stream.flush()
            return
        if self.open_line:
            self.stream.write("\r\x1b[K")
            self.open_line = False
        self.stream.write(f"{stamp}{message}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.open_line:
            self.stream.write("\n")
            self.open_line = False
