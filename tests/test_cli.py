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
        help_lines = [line for line in out.splitlines() if line.startswith(" " * 20)]
        one_word = [line for line in help_lines if len(line.split()) == 1
                    and not line.strip().startswith("[")]
        assert len(one_word) <= 2, (command, one_word)
        assert "--no-no-" not in out
        assert max(len(line) for line in out.splitlines()) <= 80
