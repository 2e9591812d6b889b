from __future__ import annotations

import re

import pytest

from study.conftest import FIVE_OPS, MakeConfig
from xrayssl.study.space import (
    GridPoint,
    PolicyPair,
    ablation_space,
    explicit_space,
    grid,
    pairwise_cell,
    pairwise_space,
    subsets_space,
)


def test_five_ops_give_32_subsets_each_once_on_top_of_the_base() -> None:
    policies = subsets_space(FIVE_OPS, base="crop")
    assert len(policies) == 32
    assert len({p.view1 for p in policies}) == 32
    assert policies[0] == PolicyPair("crop")
    assert all(p.view1.startswith("crop") and p.symmetric for p in policies)
    assert PolicyPair("crop+" + "+".join(FIVE_OPS)) in policies


def test_subsets_without_base_start_from_identity() -> None:
    policies = subsets_space(["flip", "rotation"])
    assert [p.view1 for p in policies] == ["identity", "flip", "rotation", "flip+rotation"]


@pytest.mark.parametrize(("direction", "count"), [("add", 6), ("remove", 6), ("both", 12)])
def test_ablation_adds_or_removes_one_op_at_a_time(direction: str, count: int) -> None:
    policies = ablation_space(FIVE_OPS, base="crop", direction=direction)
    assert len(policies) == count
    sizes = sorted(len(p.view1.split("+")) for p in policies)
    if direction == "add":
        assert sizes == [1, 2, 2, 2, 2, 2]
    if direction == "remove":
        assert sizes == [5, 5, 5, 5, 5, 6]


def test_asymmetric_pairwise_grid_is_the_upper_triangle_with_diagonal() -> None:
    policies = pairwise_space(FIVE_OPS, base="crop")
    assert len(policies) == 5 * 6 // 2
    diagonal = [p for p in policies if p.view1 == p.view2]
    assert len(diagonal) == 5  # one op on both views
    cells = {pairwise_cell(p, FIVE_OPS, "crop") for p in policies}
    assert len(cells) == 15 and None not in cells
    assert pairwise_cell(PolicyPair("crop+flip", "crop+rotation"), FIVE_OPS, "crop") == (
        "flip", "rotation")


def test_composed_pairwise_grid_is_the_full_square() -> None:
    policies = pairwise_space(FIVE_OPS, base="crop", mode="composed")
    assert len(policies) == 25
    assert all(p.view2 == "crop" for p in policies)
    cells = {pairwise_cell(p, FIVE_OPS, "crop") for p in policies}
    assert len(cells) == 25


def test_explicit_list_reads_two_view_specs_and_drops_repeats() -> None:
    policies = explicit_space(["crop", "crop | crop+flip", "crop", "identity", ""])
    assert policies == [PolicyPair("crop"), PolicyPair("crop", "crop+flip"),
                        PolicyPair("identity")]


def test_grid_crosses_methods_policies_seeds_with_unique_keys_and_safe_folders() -> None:
    policies = pairwise_space(FIVE_OPS, base="crop(scale=0.2-1)")
    points = grid(policies, ["simclr", "byol"], [0, 1])
    assert len(points) == 15 * 2 * 2
    assert len({p.key for p in points}) == len(points)
    assert len({p.slug for p in points}) == len(points)
    for point in points:
        assert re.fullmatch(r"[A-Za-z0-9+=._-]+", point.slug)
        assert GridPoint.from_attrs(dict(point.as_attrs())) == point


def test_search_point_prints_through_the_op_printer(make_config: MakeConfig) -> None:
    import optuna

    from xrayssl.augment.spec import parse_policy
    from xrayssl.study.search import search_point

    config = make_config(
        methods=["simclr"],
        space={"kind": "search", "ops": ["gaussian_blur", "flip"], "base": "crop",
               "n_trials": 4, "strengths": {"gaussian_blur": {"sigma": [0.1, 2.0]}}},
    )
    trial = optuna.trial.FixedTrial(
        {"use_gaussian_blur": True, "gaussian_blur.sigma": 0.52349, "use_flip": False}
    )
    point = search_point(config, trial)
    assert point.policy.view1 == "crop+gaussian_blur(sigma=0.523)"
    assert parse_policy(point.policy.view1).spec == "random_resized_crop+gaussian_blur(sigma=0.523)"


def test_check_study_names_a_misnamed_search_strength(make_config: MakeConfig) -> None:
    import pytest

    from xrayssl.errors import XraySSLError
    from xrayssl.study.trial import check_study

    config = make_config(
        methods=["simclr"],
        space={"kind": "search", "ops": ["rotation"], "base": "crop", "n_trials": 4,
               "strengths": {"rotation": {"degrees": [5, 45]}}},
    )
    with pytest.raises(XraySSLError, match=r"rotation has no parameter 'degrees'.*'deg'"):
        check_study(config)
