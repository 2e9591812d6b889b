"""What a run prints and logs: bar or epoch lines, Lightning's notices hidden, --logger."""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import MakeCache
from pytorch_lightning.loggers import CSVLogger
from test_models_pretrain import tiny_config

from xrayssl.errors import XraySSLError
from xrayssl.models.pretrain import run_pretraining
from xrayssl.models.progress import EpochBar, EpochLines, epoch_line, progress_callbacks
from xrayssl.models.run_loggers import loggers_for


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_the_bar_a_file_gets_lines_quiet_gets_nothing() -> None:
    def history() -> list[dict[str, float]]:
        return []

    assert [type(c) for c in progress_callbacks(True, history, Terminal())] == [EpochBar]
    assert [type(c) for c in progress_callbacks(True, history, io.StringIO())] == [EpochLines]
    assert progress_callbacks(False, history, Terminal()) == []


def test_the_bar_counts_epochs_from_one_and_shows_no_logger_version(tmp_path: Path) -> None:
    bar = EpochBar()
    trainer = SimpleNamespace(max_epochs=2, loggers=[CSVLogger(tmp_path)],
                              progress_bar_metrics={"train/loss": 1.5})
    bar._trainer = trainer  # type: ignore[assignment]
    assert bar._get_train_description(1).strip() == "Epoch 2/2"
    assert bar.get_metrics(trainer, None) == {"train/loss": 1.5}  # type: ignore[arg-type]


def test_epoch_line_names_epoch_loss_monitor_speed_and_eta() -> None:
    row = {"epoch": 2, "loss": 4.19857, "knn_auroc": 0.6123, "knn_accuracy": 0.6,
           "pairs_per_second": 85.27}
    assert epoch_line(row, 10, 372.4) == (
        "epoch 2/10  loss 4.1986  knn_auroc 0.612  85.3 pairs/s  ETA 0:06:12")


def test_a_run_in_a_log_file_prints_one_line_per_epoch_and_no_notices(
    make_cache: MakeCache, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    result = run_pretraining(tiny_config(epochs=2, progress=True), make_cache(n=32, size=16),
                             tmp_path / "run")
    out, err = capsys.readouterr()
    assert [line.split("  ")[0] for line in out.splitlines()] == ["epoch 1/2", "epoch 2/2"]
    logged = caplog.text + err
    for noise in ("GPU available", "TPU available", "litlogger", "LeafSpec", "v_num"):
        assert noise not in logged, noise
    assert [row["epoch"] for row in result.history] == [0, 1, 2]
    assert all(isinstance(row["epoch"], int) for row in result.history)
    summary = json.loads((tmp_path / "run" / "pretrain.json").read_text())
    assert summary["torch_threads"] >= 1


def test_csv_is_the_only_log_by_default_and_tensorboard_on_request(
    make_cache: MakeCache, tmp_path: Path
) -> None:
    cache = make_cache(n=32, size=16)
    run_pretraining(tiny_config(), cache, tmp_path / "csv")
    assert not list((tmp_path / "csv").rglob("events.out.tfevents.*"))
    if importlib.util.find_spec("tensorboard") is None:
        with pytest.raises(XraySSLError, match=r"xrayssl\[tensorboard\]"):
            run_pretraining(tiny_config(logger="tensorboard"), cache, tmp_path / "tb")
        return
    run_pretraining(tiny_config(logger="tensorboard"), cache, tmp_path / "tb")
    events = list((tmp_path / "tb" / "logs" / "version_0").glob("events.out.tfevents.*"))
    assert len(events) == 1 and events[0].stat().st_size > 0
    assert (tmp_path / "tb" / "logs" / "version_0" / "metrics.csv").is_file()


@pytest.mark.parametrize("kind", ["mlflow", "wandb"])
def test_mlflow_and_wandb_stay_offline_in_the_run_folder_or_name_their_extra(
    kind: str, tmp_path: Path
) -> None:
    if importlib.util.find_spec(kind) is None:
        with pytest.raises(XraySSLError, match=rf"pip install 'xrayssl\[{kind}\]'"):
            loggers_for(tmp_path, kind)
        return
    loggers = loggers_for(tmp_path, kind)
    assert len(loggers) == 2
    tracker = loggers[1]
    if kind == "mlflow":
        assert tracker._tracking_uri.startswith("file:")  # type: ignore[attr-defined]
    else:
        assert tracker._offline  # type: ignore[attr-defined]
