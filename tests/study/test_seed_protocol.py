"""configs/seed.yaml and what it needs: MURA + AI Hub in one cache, one study per dataset."""

from __future__ import annotations

import csv
import inspect
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from aihub_tree import write_aihub_tree

from xrayssl.augment.spec import parse_policy
from xrayssl.cli import main
from xrayssl.config.study import load_study_config
from xrayssl.data.cache import SKIPPED_FILE, PreparedCache
from xrayssl.data.records import BODY_PARTS as MURA_PARTS
from xrayssl.models.methods import METHODS
from xrayssl.runs.metrics_file import RunMetrics
from xrayssl.study.trial import check_study
from xrayssl.synth import generate_dataset

REPO = Path(__file__).resolve().parents[2]
AIHUB_PARTS = ["chestpa", "facial_bone", "foot", "mammography", "pns"]


def run_cli(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["xrayssl", *args])
    try:
        main()
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0


@pytest.fixture(scope="module")
def two_datasets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Synthetic MURA films (all seven parts) and a generated AI Hub tree (five parts)."""
    root = tmp_path_factory.mktemp("seed-data")
    mura = generate_dataset(root / "mura", patients=28, size=48, seed=0, difficulty="easy",
                            workers=1, progress=False)
    aihub = write_aihub_tree(root / "aihub", per_category=4, size=48).root
    return mura.parent if mura.name == "MURA-v1.1" else mura, aihub


def test_seed_yaml_states_the_seed_protocol() -> None:
    config = load_study_config(REPO / "configs" / "seed.yaml")
    check_study(config)  # every policy parses, every method's settings validate
    assert config.data.sources is not None and len(config.data.sources) == 2
    assert (config.data.size, config.data.clahe, config.data.pooled) == (256, True, False)
    assert config.pretrain["encoder"] == "resnet50"
    assert (config.pretrain["epochs"], config.pretrain["batch_size"]) == (5, 32)
    assert (config.pretrain["lr"], config.pretrain["weight_decay"]) == (3e-4, 0.0)
    simclr = config.pretrain_by_method["simclr"]["method_options"]
    assert simclr == {"hidden_dim": 512, "projection_dim": 128, "temperature": 0.5}
    byol = config.pretrain_by_method["byol"]["method_options"]
    assert byol == {"momentum_start": 0.99, "momentum_end": 0.99}
    for method, settings in config.pretrain_by_method.items():  # the methods take them
        accepted = inspect.signature(METHODS.get(method).__init__).parameters
        assert set(settings["method_options"]) <= set(accepted)
    ops = [{op.name for op in parse_policy(spec).ops} for spec in config.space.policies]
    seed_ops = {"rotation", "flip", "gaussian_blur", "chessboard", "random_erasing"}
    assert {"rotation", "gaussian_blur", "chessboard"} in ops
    assert {"rotation", "flip", "random_erasing"} in ops
    assert seed_ops in ops and all({op} in ops for op in seed_ops)
    blur = next(op for spec in config.space.policies for op in parse_policy(spec).ops
                if op.name == "gaussian_blur")
    assert (blur.p, blur.sigma, blur.kernel) == (0.2, (1.0, 2.0), 3)  # type: ignore[attr-defined]


def test_prepare_two_sources_into_one_cache(
    two_datasets: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    mura, aihub = two_datasets
    out = tmp_path / "cache"
    code = run_cli(monkeypatch, "prepare", str(mura), str(aihub), "--out", str(out),
                   "--size", "32", "--workers", "1", "--quiet")
    printed = capsys.readouterr()
    assert code == 0, printed.err
    cache = PreparedCache.open(out)
    by_source: dict[str, set[str]] = {}
    for record in cache.records:
        by_source.setdefault(record.source, set()).add(record.body_part)
    assert by_source == {"mura": set(MURA_PARTS), "aihub": set(AIHUB_PARTS)}
    assert len(cache.body_parts()) == 12  # 7 + 5, none merged
    assert {r.condition for r in cache.records if r.source == "aihub"} >= {"Hallux_Valgus"}
    assert all(r.condition == "" for r in cache.records if r.source == "mura")
    skipped = (out / SKIPPED_FILE).read_text(encoding="utf-8")
    assert "missing.json" in skipped and "orphan.png" in skipped
    assert "aihub: chestpa, facial_bone, foot, mammography, pns" in printed.out


def scaled_down_seed(tmp_path: Path, mura: Path, aihub: Path, **changes: Any) -> Path:
    """configs/seed.yaml with small images, a tiny encoder and one epoch."""
    settings = yaml.safe_load((REPO / "configs" / "seed.yaml").read_text(encoding="utf-8"))
    settings["runs_dir"] = str(tmp_path / "runs")
    settings["data"].update({"sources": [str(mura), str(aihub)], "size": 32})
    settings["pretrain"].update({"encoder": "resnet_tiny", "epochs": 1, "batch_size": 16,
                                 "workers": 0, "progress": False, "monitor_max_query": 64})
    settings["probe"].update({"cv_folds": 2, "cs": [0.1, 1.0], "n_bootstrap": 50})
    settings["report"] = {"gradcam": False}
    settings.update(changes)
    path = tmp_path / "seed-small.yaml"
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_scaled_down_seed_study_runs_per_dataset_with_its_tables(
    two_datasets: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    mura, aihub = two_datasets
    policies = yaml.safe_load((REPO / "configs" / "seed.yaml").read_text())["space"]["policies"]
    # One of the seed's eight policies and one method per dataset keep this short on 2 cores;
    # the whole grid is the same code path (tests/study/test_seed_protocol.py -m slow).
    path = scaled_down_seed(tmp_path, mura, aihub, methods=["simclr"],
                            space={"kind": "list", "policies": policies[:1]})
    code = run_cli(monkeypatch, "study", "run", str(path), "--quiet")
    printed = capsys.readouterr()
    assert code == 0, printed.err
    runs = tmp_path / "runs"
    assert sorted(p.name for p in runs.iterdir() if p.is_dir() and p.name != "seed") == [
        "seed-aihub", "seed-mura"]
    for study, parts in (("seed-mura", MURA_PARTS), ("seed-aihub", AIHUB_PARTS)):
        assert run_cli(monkeypatch, "study", "results", str(runs / study)) == 0
        tables = capsys.readouterr().out
        assert "auroc" in tables.lower()
        ranked = read_csv(runs / study / "results" / "ranking.csv")
        assert len(ranked) == 1
        body = read_csv(runs / study / "results" / "by_body_part.csv")
        columns = set(body[0]) - {"method", "policy", "seed"}
        assert columns == set(parts)  # one column per body part, never the other dataset's
        trial = next(p for p in (runs / study).iterdir() if (p / "metrics.json").is_file())
        metrics = RunMetrics.read(trial / "metrics.json")
        for name in ("auroc", "kappa", "accuracy", "precision", "sensitivity", "f1"):
            assert metrics.estimate(name, 1.0) is not None, name


def test_a_pooled_run_is_one_study_over_both_datasets(
    two_datasets: tuple[Path, Path], tmp_path: Path,
) -> None:
    from xrayssl.study.by_source import studies_by_source
    from xrayssl.study.trial import prepare_study_data

    mura, aihub = two_datasets
    split = load_study_config(scaled_down_seed(tmp_path, mura, aihub))
    cache = prepare_study_data(split, progress=False)
    studies = studies_by_source(split, cache)
    assert [s.name for s in studies] == ["seed-aihub", "seed-mura"]
    assert set(studies[0].data.body_parts or []) == set(AIHUB_PARTS)
    pooled = split.model_copy(update={"data": split.data.model_copy(update={"pooled": True})})
    assert studies_by_source(pooled, cache) == [pooled]


@pytest.mark.slow
def test_scaled_down_seed_study_whole_grid(
    two_datasets: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every policy and both methods of configs/seed.yaml, on small images for one epoch."""
    mura, aihub = two_datasets
    path = scaled_down_seed(tmp_path, mura, aihub)
    code = run_cli(monkeypatch, "study", "run", str(path), "--quiet")
    assert code == 0, capsys.readouterr().err
    for study in ("seed-mura", "seed-aihub"):
        assert run_cli(monkeypatch, "study", "results", str(tmp_path / "runs" / study)) == 0
        ranked = read_csv(tmp_path / "runs" / study / "results" / "ranking.csv")
        assert len(ranked) == 16  # 8 policies x SimCLR, BYOL
        assert {row["method"] for row in ranked} == {"simclr", "byol"}
