"""The real trial function on a tiny prepared cache: every run-folder file, and a re-run that
reads the finished trial back instead of training again."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import MakeCache

from study.conftest import MakeConfig
from xrayssl.runs.metrics_file import RunMetrics
from xrayssl.study.grid import grid_points
from xrayssl.study.runner import StudyRunner
from xrayssl.study.trial import PipelineTrial, check_study

TINY_PRETRAIN = {"encoder": "resnet18_small", "epochs": 1, "batch_size": 16, "workers": 0,
                 "monitor_max_query": 64}
TINY_PROBE = {"fractions": [1.0], "cv_folds": 2, "n_bootstrap": 50, "cs": [0.1, 1.0]}


@pytest.mark.slow
@pytest.mark.parametrize("keep", [False, True])
def test_pipeline_trial_fills_the_run_folder(
    make_config: MakeConfig, make_cache: MakeCache, keep: bool
) -> None:
    cache = make_cache(n=48, size=32)
    config = make_config(
        data={"cache": str(cache.root)}, methods=["simclr"],
        space={"kind": "list", "policies": ["crop+flip"]},
        pretrain=TINY_PRETRAIN, probe=TINY_PROBE,
        runner={"keep_checkpoints": keep, "heartbeat_interval": 1, "grace_period": 5},
    )
    check_study(config)
    runner = StudyRunner(config, PipelineTrial(config, cache, progress=False), progress=None)
    summary = runner.run()
    assert summary.complete == 1, summary
    (point,) = grid_points(config)
    folder = config.study_dir / point.slug
    for name in ("config.yaml", "metrics.json", "encoder.pt", "probe.json", "log.csv"):
        assert (folder / name).is_file(), name
    # A finished trial keeps no checkpoints, unless runner.keep_checkpoints asks for them.
    assert any((folder / "checkpoints").glob("*.ckpt")) == keep
    written = yaml.safe_load((folder / "config.yaml").read_text())
    assert written["policy"] == "crop+flip" and written["method"] == "simclr"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["format"] == "xrayssl-run-v2" and metrics["run"]["kind"] == "trial"
    # The study ranks by val; the test scores are reported, never selected on.
    estimate = RunMetrics.read(folder / "metrics.json").estimate("auroc", 1.0, split="val")
    assert estimate is not None
    auroc = estimate.value
    assert summary.best is not None and summary.best[1] == auroc
    assert metrics["data"]["cache"] == str(cache.root)

    # A trial whose worker died after writing metrics.json is read back, not retrained.
    stamp = (folder / "encoder.pt").stat().st_mtime_ns
    again = PipelineTrial(config, cache, progress=False)
    from xrayssl.study.runner import TrialContext

    outcome = again(TrialContext(config, point, folder, config.study_dir, 0, lambda s, v: None))
    assert outcome.value == auroc
    assert (folder / "encoder.pt").stat().st_mtime_ns == stamp


def test_check_study_names_a_bad_policy(make_config: MakeConfig) -> None:
    from xrayssl.errors import XraySSLError

    config = make_config(space={"kind": "list", "policies": ["crop+flipp"]})
    with pytest.raises(XraySSLError, match="flipp"):
        check_study(config)
