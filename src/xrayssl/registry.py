"""Name -> object registries, in the style of timm's ``register_model``.

An augmentation op, an SSL method or an encoder is one decorated class or function;
nothing else changes when one is added. Unknown names fail with the known names and
a "did you mean" suggestion.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from xrayssl.errors import XraySSLError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str | None = None) -> Callable[[T], T]:
        """Decorator adding ``obj`` under ``name``, or under the object's own ``name`` attribute.

        A class that declares ``name = "rotation"`` registers with a bare ``@OPS.register()``;
        a name given as well must equal it, so the two spellings cannot drift apart.
        """

        def decorator(obj: T) -> T:
            declared = getattr(obj, "name", None) if isinstance(obj, type) else None
            own = declared if isinstance(declared, str) and declared else None
            if name is not None and own is not None and own != name:
                raise ValueError(
                    f"{self.kind} {obj!r} is registered as {name!r} but names itself {own!r}"
                )
            key = name if name is not None else own
            if not isinstance(key, str) or not key:
                raise ValueError(
                    f"{self.kind} {obj!r} has no name: pass one to register() or give the "
                    "class a 'name' attribute"
                )
            if key in self._items:
                raise ValueError(f"{self.kind} {key!r} is registered twice")
            self._items[key] = obj
            return obj

        return decorator

    def items(self) -> list[tuple[str, T]]:
        """(name, object) pairs in registration order."""
        return list(self._items.items())

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise XraySSLError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        known = ", ".join(self.names())
        close = difflib.get_close_matches(name, self.names(), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return f"unknown {self.kind} {name!r}.{hint} Known: {known}"

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)
