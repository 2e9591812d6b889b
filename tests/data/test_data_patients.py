"""Patients read from file names, a word when they are only guessed, and one hash per source
however its path is spelt."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from imagefiles import gradient, write_png

from xrayssl.config.data import PrepareConfig
from xrayssl.data.checks import DataWarning
from xrayssl.data.prepare import config_hash
from xrayssl.data.sources.combined import load_sources
from xrayssl.errors import XraySSLError


def knee_folders(root: Path) -> Path:
    for label, ids in (("normal", ("9001", "9002")), ("abnormal", ("9003", "9004"))):
        for patient in ids:
            for side in "LR":
                write_png(root / label / f"{patient}{side}.png", gradient())
    return root


def test_class_folders_warn_that_each_file_is_its_own_patient(tmp_path: Path) -> None:
    root = knee_folders(tmp_path / "knee")
    with pytest.warns(DataWarning, match=r"each of the 8 images is taken as its own patient.*"
                                         r"--patient-id REGEX"):
        listing = load_sources([root])
    assert len({r.patient_id for r in listing.records}) == 8


def test_patient_pattern_groups_the_left_and_right_knee(tmp_path: Path) -> None:
    import warnings

    root = knee_folders(tmp_path / "knee")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # no guessed-patients warning now
        listing = load_sources([root], patient_id=r"^(\d+)[LR]$")
    assert sorted({r.patient_id for r in listing.records}) == ["9001", "9002", "9003", "9004"]
    with pytest.raises(XraySSLError, match=r"does not match the file name '9003L'"):
        load_sources([root], patient_id=r"^(\d+)X$")
    with pytest.raises(XraySSLError, match="not a regular expression"):
        load_sources([root], patient_id="(")


def test_the_cache_hash_does_not_depend_on_how_the_source_path_is_spelt(tmp_path: Path) -> None:
    root = knee_folders(tmp_path / "data" / "knee")
    other = tmp_path / "elsewhere"
    other.mkdir()
    relative = Path(os.path.relpath(root, other))  # ../data/knee from elsewhere
    here = os.getcwd()
    try:
        os.chdir(other)
        with pytest.warns(DataWarning):
            spelt_relative = load_sources([relative]).records
    finally:
        os.chdir(here)
    with pytest.warns(DataWarning):
        spelt_absolute = load_sources([tmp_path / "data" / "x" / ".." / "knee"]).records
    config = PrepareConfig(size=32)
    assert config_hash(config, spelt_relative) == config_hash(config, spelt_absolute)
