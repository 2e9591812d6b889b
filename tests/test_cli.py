import subprocess
import sys


def test_cli_help_lists_every_stage() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "xrayssl", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("synth", "prepare", "augment", "pretrain", "probe", "study", "gradcam",
                    "report", "demo"):
        assert command in out


def test_help_is_readable_at_80_columns() -> None:
    """Plain two-column help: sentences stay sentences, and no flag reads --no-no-..."""
    import os

    env = {**os.environ, "COLUMNS": "80", "TERMINAL_WIDTH": "80"}
    for command in (["probe"], ["pretrain"], ["prepare"], ["study", "run"], ["report"]):
        out = subprocess.run([sys.executable, "-m", "xrayssl", *command, "--help"],
                             capture_output=True, text=True, check=True, env=env).stdout
        assert "\u2502" not in out  # no rich panel: its option table squeezes the help text
        one_word = [line.startswith(" " * 20) and len(line.split()) == 1
                    for line in out.splitlines()]
        # A sentence may end on a line of its own; a column squeezed to one word per line
        # (rich's panels at 80 columns) shows as runs of them.
        runs = "".join("1" if flag else "0" for flag in one_word).split("0")
        assert max(len(run) for run in runs) <= 1, (command, out)
        assert "--no-no-" not in out
        assert max(len(line) for line in out.splitlines()) <= 80
