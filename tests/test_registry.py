import pytest

from xrayssl.errors import XraySSLError
from xrayssl.registry import Registry


def test_register_and_get() -> None:
    reg: Registry[type] = Registry("widget")

    @reg.register("alpha")
    class Alpha:
        pass

    assert reg.get("alpha") is Alpha
    assert "alpha" in reg
    assert reg.names() == ["alpha"]


def test_unknown_name_lists_known_and_suggests() -> None:
    reg: Registry[int] = Registry("op")
    reg.register("gaussian_blur")(1)
    reg.register("flip")(2)
    with pytest.raises(XraySSLError) as err:
        reg.get("gausian_blur")
    message = str(err.value)
    assert "Did you mean 'gaussian_blur'" in message
    assert "flip" in message


def test_double_registration_fails() -> None:
    reg: Registry[int] = Registry("op")
    reg.register("x")(1)
    with pytest.raises(ValueError):
        reg.register("x")(2)


def test_register_takes_the_class_own_name() -> None:
    reg: Registry[type] = Registry("op")

    @reg.register()
    class Blur:
        name = "blur"

    assert reg.get("blur") is Blur


def test_register_checks_a_given_name_against_the_class_name() -> None:
    reg: Registry[type] = Registry("op")

    class Blur:
        name = "blur"

    with pytest.raises(ValueError, match="names itself 'blur'"):
        reg.register("sharpen")(Blur)
    assert "sharpen" not in reg and "blur" not in reg


def test_register_without_any_name_fails() -> None:
    reg: Registry[object] = Registry("encoder")
    with pytest.raises(ValueError, match="has no name"):
        reg.register()(lambda: None)


def test_items_keep_registration_order() -> None:
    reg: Registry[int] = Registry("source layout")
    reg.register("zeta")(1)
    reg.register("alpha")(2)
    assert reg.items() == [("zeta", 1), ("alpha", 2)]
    assert reg.names() == ["alpha", "zeta"]
