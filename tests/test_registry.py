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
