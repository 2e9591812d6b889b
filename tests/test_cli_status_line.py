"""Progress lines: a terminal gets one live line for details, a log gets plain lines."""

from __future__ import annotations

import io

from xrayssl.cli import status_line
from xrayssl.cli.status_line import StatusLine


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_plain_lines_and_few_details(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    now = [0.0]
    monkeypatch.setattr(status_line.time, "monotonic", lambda: now[0])
    log = io.StringIO()
    say = StatusLine(log)
    say("probe 1/2: 1 of the labels")
    for seconds, fold in ((1.0, 2), (5.0, 3), (17.0, 4)):
        now[0] = seconds
        say(f"  choosing C: fold {fold}/5")  # shown at 1 s, held back at 5 s, shown at 17 s
    lines = log.getvalue().splitlines()
    assert len(lines) == 3 and "\r" not in log.getvalue()
    assert lines[0].endswith("probe 1/2: 1 of the labels")
    assert lines[1].endswith("fold 2/5") and lines[2].endswith("fold 4/5")


def test_a_terminal_overwrites_details_in_place() -> None:
    screen = Terminal()
    say = StatusLine(screen)
    say("Grad-CAM of 3 trials")
    say("  Grad-CAM 1/3: simclr crop")
    say("  Grad-CAM 2/3: byol crop")
    say("tables, figures and policy previews")
    text = screen.getvalue()
    assert text.count("\n") == 2  # two plain lines; the details shared one live line
    assert "\r\x1b[K" in text and text.endswith("tables, figures and policy previews\n")


def test_quiet_says_nothing() -> None:
    log = io.StringIO()
    StatusLine(log, quiet=True)("anything")
    assert log.getvalue() == ""
