"""The METHODS registry, kept apart so each method module can register itself."""

from __future__ import annotations

from xrayssl.models.methods.base import PairMethod
from xrayssl.registry import Registry

METHODS: Registry[type[PairMethod]] = Registry("method")
