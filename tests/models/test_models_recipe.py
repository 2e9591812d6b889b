"""The small-image recipe fills only what the user left unset, and only for small images."""

from __future__ import annotations

from xrayssl.augment.views import parse_views
from xrayssl.config.pretrain import PretrainConfig
from xrayssl.models.encoders import ENCODERS
from xrayssl.models.methods import METHODS
from xrayssl.models.recipe import SMALL_IMAGES, recipe_for, with_small_image_defaults


def test_small_images_get_the_recipe_where_unset() -> None:
    fields, filled = with_small_image_defaults({"policy": "crop", "lr": 0.01}, 64)
    assert set(filled) == {"encoder", "batch_size", "warmup_epochs"}
    assert fields["lr"] == 0.01  # given: kept
    config = PretrainConfig(**fields)
    assert config.encoder == SMALL_IMAGES.encoder
    assert config.method_options == SMALL_IMAGES.method_options


def test_the_recipe_fills_the_policy_when_none_is_given() -> None:
    fields, filled = with_small_image_defaults({}, 64)
    assert "policy" in filled and fields["policy"] == SMALL_IMAGES.policy
    assert with_small_image_defaults({}, 224) == ({}, [])  # large images: the user chooses


def test_large_images_and_other_methods_keep_their_defaults() -> None:
    assert with_small_image_defaults({"policy": "crop"}, 224) == ({"policy": "crop"}, [])
    fields, filled = with_small_image_defaults({"policy": "crop", "method": "byol"}, 28)
    assert fields["encoder"] == SMALL_IMAGES.encoder and "lr" in filled


def test_recipes_name_registered_parts() -> None:
    for size in (28, 64, 224):
        recipe = recipe_for(size)
        assert recipe.encoder in ENCODERS.names() and recipe.method in METHODS.names()
        assert len(parse_views(recipe.policy).policy_a.op_list()) >= 2  # parses, not identity
