"""``xrayssl demo``: the whole pipeline on generated radiographs, on a laptop, resumable.

synth (7 body parts) -> prepare -> study (crop base + the five ops, SimCLR and BYOL) ->
results -> Grad-CAM -> report. The default is the ablation (crop alone and crop plus each op:
6 policies x 2 methods = 12 trials); ``--full`` widens the same study to all 32 subsets, reusing
the 12 trials already done. Running the same command again continues where it stopped.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from xrayssl.config.study import StudyConfig
from xrayssl.errors import XraySSLError
from xrayssl.runs.folder import StudyFolder

DEMO_OPS = ["gaussian_blur", "flip", "rotation", "chessboard", "random_erasing"]

# Presets of the pretraining/probe budget. "default" runs every policy at 2 epochs, the better
# half and the crop-only base at 4, the two best and the base at 8 epochs with three seeds each,
# then the 3 floors (supervised for as many epochs as the last rung), Grad-CAM and the report;
# "tiny" is a smoke run of a few minutes; "long" trains long enough for the encoders to learn
# more than the pipeline's shape.
# resnet_tiny (16-128 channels) is what makes dozens of trials fit a laptop CPU: resnet18 costs
# about four times as much per step at 64 px. Lesions are drawn at the "easy" end so they
# survive the 64 px images.
BUDGETS: dict[str, dict[str, Any]] = {
    "tiny": {"patients": 140, "epochs": 1, "size": 48, "encoder": "resnet_tiny",
             "batch_size": 64, "lr": 2e-3,
             "halving": {"rungs": [1, 2], "keep": 0.25, "min_keep": 2, "final_seeds": [0, 1]}},
    "default": {"patients": 420, "epochs": 8, "size": 64, "encoder": "resnet_tiny",
                "batch_size": 128, "lr": 2e-3,
                "halving": {"rungs": [2, 4, 8], "keep": 0.5, "min_keep": 2,
                            "final_seeds": [0, 1, 2]}},
    "long": {"patients": 840, "epochs": 30, "size": 96, "encoder": "resnet18",
             "batch_size": 128, "lr": 1e-3,
             "halving": {"rungs": [5, 10, 30], "keep": 0.5, "min_keep": 2,
                         "final_seeds": [0, 1, 2]}},
}
# Halving: every policy first at the shortest rung, the better half on to the next, the
# finalists (and the crop-only base, the answer's reference) at the last rung with several
# seeds. ``xrayssl study plan configs/demo.yaml`` counts the default's pretraining epochs.


def demo_settings(budget: str = "default", full: bool = False) -> dict[str, Any]:
    """The demo study as plain data (``configs/demo.yaml`` holds the default one)."""
    if budget not in BUDGETS:
        raise XraySSLError(f"unknown demo budget {budget!r}; choose from {', '.join(BUDGETS)}")
    preset = BUDGETS[budget]
    space: dict[str, Any] = {"kind": "subsets" if full else "ablation", "base": "crop",
                             "ops": list(DEMO_OPS)}
    return {
        "name": "demo" if budget == "default" else f"demo-{budget}",
        "data": {
            "synth": {"patients": preset["patients"], "size": max(64, preset["size"]), "seed": 0,
                      "options": {"difficulty": "easy"}},
            "size": preset["size"],
        },
        "methods": ["simclr", "byol"],
        "seeds": [0],
        "baselines": ["raw", "random", "supervised"],
        "pretrain": {
            "encoder": preset["encoder"],
            "epochs": preset["epochs"],
            "batch_size": preset["batch_size"],
            "lr": preset["lr"],
            "warmup_epochs": 0,
            "workers": 0,
            "monitor_max_query": 256,
            "log_every_n_steps": 5,
        },
        "probe": {
            "fractions": [0.1, 1.0],
            "seeds": 2,
            "cv_folds": 3,
            "cs": [0.01, 0.1, 1.0],
            "n_bootstrap": 300,
            # The supervised floor: the same encoder end to end, as many epochs as pretraining.
            "supervised": {"epochs": preset["epochs"], "batch_size": preset["batch_size"]},
        },
        "space": space,
        "objective": {"metric": "auroc", "level": "image", "fraction": 1.0},
        "runner": {"heartbeat_interval": 10, "grace_period": 60},
        "report": {"gradcam": True, "gradcam_images": 6},
        "halving": dict(preset["halving"]),
    }


def demo_config(out: Path, budget: str = "default", full: bool = False) -> StudyConfig:
    settings = demo_settings(budget, full)
    settings["runs_dir"] = str(out)
    return StudyConfig.model_validate(settings)


def run_demo(out: Path, budget: str = "default", full: bool = False,
             progress: bool = True) -> Path:
    """Run (or continue) the demo; returns the report's path."""
    from xrayssl.apps.study_gradcam import explain_findings
    from xrayssl.findings.collect import write_results
    from xrayssl.findings.policy_ranking import closing_lines
    from xrayssl.report.figure_files import write_figures
    from xrayssl.report.html import render_report
    from xrayssl.study.runner import StudyRunner
    from xrayssl.study.trial import PipelineTrial, check_study, prepare_study_data

    started = time.monotonic()
    config = demo_config(out, budget, full)

    def say(message: str) -> None:
        if progress:
            print(message, file=sys.stderr, flush=True)

    check_study(config)
    say(f"[demo] data: synthetic radiographs -> {StudyFolder(config.study_dir).cache}")
    cache = prepare_study_data(config, progress=progress)
    say(f"[demo] study: {config.space.kind} over {', '.join(DEMO_OPS)} on a crop base, "
        f"{' and '.join(config.methods)}")
    runner = StudyRunner(config, PipelineTrial(config, cache, progress=progress),
                         progress=sys.stderr if progress else None)
    summary = runner.run()
    if summary.remaining:
        raise XraySSLError(
            f"the demo study still has {summary.remaining} trial(s) to run; run the same command "
            "again to continue"
        )
    results = write_results(config.study_dir)
    write_figures(results)  # PNG and SVG for a paper, beside the tables
    say(f"[demo] results: {StudyFolder(config.study_dir).results / 'results.md'}")
    if config.report.gradcam:
        results, _ran = explain_findings(results, cache)
    report = render_report(results)
    say(f"[demo] report: {report}")
    say(f"[demo] finished in {time.monotonic() - started:.0f} s")
    for line in closing_lines(results):  # the selection over seeds, then the headline, last
        say(f"[demo] {line}")
    return report
