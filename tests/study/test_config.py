from __future__ import annotations

from pathlib import Path

import pytest

from study.conftest import MakeConfig
from xrayssl.config.study import load_study_config
from xrayssl.errors import XraySSLError

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_errors_name_the_field(tmp_path: Path) -> None:
    path = write(tmp_path, "name: s\ndata: {cache: c, source: s}\nspace: {kind: subsets}\n")
    with pytest.raises(XraySSLError) as err:
        load_study_config(path)
    text = str(err.value)
    assert str(path) in text
    assert "exactly one of data.cache" in text
    assert "space.ops" in text


def test_typo_and_reserved_fields_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(XraySSLError, match="epochz"):
        load_study_config(write(tmp_path, "name: s\ndata: {cache: c}\nepochz: 3\n"
                                "space: {kind: list, policies: [crop]}\n"))
    with pytest.raises(XraySSLError, match="study chooses per trial"):
        load_study_config(write(tmp_path, "name: s\ndata: {cache: c}\npretrain: {method: x}\n"
                                "space: {kind: list, policies: [crop]}\n"))


def test_fingerprint_ignores_the_space_but_not_the_training(make_config: MakeConfig) -> None:
    small = make_config()
    wide = make_config(space={"kind": "subsets", "ops": ["flip", "rotation"], "base": "crop"})
    longer = make_config(pretrain={"epochs": 9})
    assert small.fingerprint() == wide.fingerprint()
    assert small.fingerprint() != longer.fingerprint()


@pytest.mark.parametrize("name", ["demo.yaml", "mura.yaml", "knee.yaml"])
def test_shipped_configs_validate(name: str) -> None:
    config = load_study_config(REPO / "configs" / name)
    assert config.methods == ["simclr", "byol"]
    assert config.space.ops == ["gaussian_blur", "flip", "rotation", "chessboard",
                                "random_erasing"]


def test_demo_yaml_is_what_the_demo_command_runs() -> None:
    import yaml

    from xrayssl.apps.demo import demo_settings

    shipped = yaml.safe_load((REPO / "configs" / "demo.yaml").read_text(encoding="utf-8"))
    assert shipped == demo_settings()


def test_a_changed_setting_is_named_when_the_study_refuses_it(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    from study.fake_trial import make_fake_trial
    from xrayssl.study.runner import StudyRunner

    first = make_config(pretrain={"epochs": 3})
    StudyRunner(first, make_fake_trial(tmp_path / "log"), progress=None).run()
    changed = make_config(pretrain={"epochs": 5})
    with pytest.raises(XraySSLError, match=r"different data/pretrain/probe/objective settings "
                                           r"\(pretrain\.epochs: 3 -> 5\)"):
        StudyRunner(changed, make_fake_trial(tmp_path / "log"), progress=None)


def test_changed_fields_lists_every_leaf() -> None:
    from xrayssl.config.study import changed_fields

    assert changed_fields({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}, "d": 4}) == [
        "a.c: 2 -> 3", "d: None -> 4"]
