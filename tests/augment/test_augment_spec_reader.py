"""One reader of the spec grammar: op calls as written, cached, and the one two-view form."""

from __future__ import annotations

import pytest

from xrayssl.augment.spec import PolicyPair, parse_policy, read_spec
from xrayssl.augment.views import parse_views
from xrayssl.errors import XraySSLError
from xrayssl.study.space import op_names, pairwise_cell


def test_read_spec_keeps_written_names_registered_names_and_text() -> None:
    calls = read_spec("crop + blur(sigma = 0.1-2, p=0.5)+flip")
    assert [c.written for c in calls] == ["crop", "blur", "flip"]
    assert [c.name for c in calls] == ["random_resized_crop", "gaussian_blur", "flip"]
    assert calls[1].text == "blur(sigma = 0.1-2, p=0.5)"
    assert dict(calls[1].kwargs) == {"sigma": (0.1, 2.0), "p": 0.5}
    assert read_spec("identity") == () and read_spec("") == ()


def test_a_spec_is_read_once_and_built_fresh_each_time() -> None:
    spec = "crop+rotation(deg=7)"
    assert read_spec(spec) is read_spec(spec)
    first, second = parse_policy(spec), parse_policy(spec)
    assert first is not second
    assert first.spec == second.spec == "random_resized_crop+rotation(deg=7)"


def test_the_op_checks_still_fail_at_the_op() -> None:
    with pytest.raises(XraySSLError, match=r"flip: .*\n  crop\+flip\(horizontal=false\)\n  +\^"):
        read_spec("crop+flip(horizontal=false)")


def test_op_names_come_from_the_reader() -> None:
    assert op_names("crop + gaussian_blur(sigma=0.1-2, p=0.5)") == {"crop", "gaussian_blur"}
    assert op_names("crop+not_an_op") is None
    assert op_names("crop | flip") is None


def test_pairwise_cell_reads_ops_with_arguments() -> None:
    ops = ["gaussian_blur(sigma=1)", "flip"]
    cell = pairwise_cell(PolicyPair("crop+gaussian_blur(sigma=1)", "crop+flip"), ops, "crop")
    assert cell == ("gaussian_blur(sigma=1)", "flip")
    assert pairwise_cell(PolicyPair("crop+nonsense(", "crop+flip"), ops, "crop") is None


def test_policy_pair_is_the_one_two_view_form() -> None:
    pair = PolicyPair.parse(" crop+flip |  crop+gamma ")
    assert pair == PolicyPair("crop+flip", "crop+gamma")
    assert pair.label == "crop+flip | crop+gamma"
    assert PolicyPair.parse(pair.label) == pair
    assert PolicyPair.parse("") == PolicyPair("identity")
    assert parse_views(pair.label).spec == "random_resized_crop+flip | random_resized_crop+gamma"
    with pytest.raises(XraySSLError, match="3 parts"):
        PolicyPair.parse("flip | crop | gamma")
