import subprocess
import sys


def test_cli_help_lists_every_stage() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "xrayssl", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("synth", "prepare", "augment", "pretrain", "probe", "study", "gradcam",
                    "report", "demo"):
        assert command in out
