"""The floors run as trials of every study: once, resumable, marked as baselines."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml
from conftest import MakeCache

from study.conftest import MakeConfig
from xrayssl.findings.collect import write_results
from xrayssl.runs.metrics_file import RunMetrics
from xrayssl.study.floor_trials import floor_kind, floor_points
from xrayssl.study.grid import grid_points
from xrayssl.study.runner import StudyRunner
from xrayssl.study.trial import PipelineTrial, check_study

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
import pretrain_tiny  # registers the tiny test encoder

PRETRAIN = {"encoder": pretrain_tiny.TINY, "epochs": 1, "batch_size": 16, "workers": 0,
            "monitor_max_query": 64, "method_options": {"projection_dim": 16}}
PROBE = {"fractions": [0.5, 1.0], "seeds": 2, "cv_folds": 2, "n_bootstrap": 50,
         "cs": [0.1, 1.0], "supervised": {"epochs": 1, "batch_size": 16}}


def test_floors_are_on_by_default_and_each_can_be_turned_off(make_config: MakeConfig) -> None:
    from xrayssl.config.study import StudyConfig

    fields = make_config().model_dump()
    fields.pop("baselines")
    config = StudyConfig.model_validate(fields)
    assert config.baselines == ["raw", "random", "supervised"]
    kinds = [floor_kind(p) for p in floor_points(config)]
    assert kinds == ["raw", "random", "supervised"]
    supervised = floor_points(config)[2]
    assert supervised.policy.view1 == "crop"  # trained with the study's base policy
    fewer = make_config(baselines=["raw"])
    assert [floor_kind(p) for p in grid_points(fewer) if floor_kind(p)] == ["raw"]
    assert not [p for p in grid_points(make_config(baselines=[])) if floor_kind(p)]


def test_floors_run_once_beside_the_policies_and_are_never_ranked(
    make_config: MakeConfig, make_cache: MakeCache
) -> None:
    cache = make_cache(n=96, size=16)
    config = make_config(
        data={"cache": str(cache.root)}, methods=["simclr"],
        space={"kind": "list", "policies": ["crop+flip"], "base": "crop"},
        pretrain=PRETRAIN, probe=PROBE, baselines=["raw", "random", "supervised"],
    )
    check_study(config)
    summary = StudyRunner(config, PipelineTrial(config, cache, progress=False),
                          progress=None).run()
    assert summary.complete == 4 and not summary.failed, summary
    assert summary.best is not None and summary.best[0].startswith("simclr")  # a policy
    for point in floor_points(config):
        folder = config.study_dir / point.slug
        written = yaml.safe_load((folder / "config.yaml").read_text())
        assert written["baseline"] == floor_kind(point)
        metrics = RunMetrics.read(folder / "metrics.json")
        assert metrics.run.kind == "baseline" and metrics.run.baseline == floor_kind(point)
        # Same splits and fractions as the policies: val and test scores at both fractions.
        assert set(metrics.fractions) == {"0.5", "1"}
        assert all(set(f.scores) == {"val", "test"} for f in metrics.fractions.values())
        assert metrics.splits["val"].n and metrics.splits["test"].n
        if point.method != "floor:raw":
            assert written["pretrain"]["encoder"] == pretrain_tiny.TINY
    supervised = RunMetrics.read(config.study_dir / floor_points(config)[2].slug
                                 / "metrics.json")
    assert supervised.model["supervised"]["policy"] == "crop"

    again = StudyRunner(config, PipelineTrial(config, cache, progress=False),
                        progress=None).run()
    assert again.ran_here == 0  # run exactly once: a second run finds them all done

    results = write_results(config.study_dir, n_boot=50)
    assert [t.is_floor for t in results.trials] == [False]
    assert sorted(t.view1 for t in results.floors) == ["random", "raw", "supervised"]
    text = (config.study_dir / "results" / "results.md").read_text()
    assert "## Floors (on val)" in text and "| supervised |" in text
