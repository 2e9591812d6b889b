"""RunFolder: the paths of a run's files, and when its pretraining counts as finished."""

from __future__ import annotations

from pathlib import Path

from xrayssl.runs.folder import RunFolder, StudyFolder
from xrayssl.runs.pretrain_record import PretrainRecord


def test_paths_are_named_below_the_folder(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "trial")
    assert run.encoder == tmp_path / "trial" / "encoder.pt"
    assert run.probe.parent == run.path and run.checkpoints.parent == run.path
    study = StudyFolder(tmp_path)
    assert study.gradcam.record == tmp_path / "gradcam" / "explain.json"
    assert study.config.name == "study.yaml"


def test_pretraining_finished_needs_the_record_the_epochs_and_the_encoder(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    assert not run.pretraining_finished(1)  # nothing yet
    PretrainRecord(epochs_completed=3, encoder="encoder.pt", extra_key=1).write(run.pretrain_record)
    assert not run.pretraining_finished(3)  # no encoder file
    run.encoder.write_bytes(b"weights")
    assert run.pretraining_finished(3)
    assert not run.pretraining_finished(4)  # fewer epochs than asked
    record = run.read_pretrain_record()
    assert record is not None and record.model_extra == {"extra_key": 1}  # unknown keys kept
    run.pretrain_record.write_text("{not json")
    assert run.read_pretrain_record() is None and not run.pretraining_finished(1)
