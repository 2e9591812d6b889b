"""SSL methods, each a short LightningModule on :class:`PairMethod`, found by name in METHODS."""

from __future__ import annotations

import inspect
from typing import Any

from xrayssl.errors import XraySSLError
from xrayssl.models.datamodule import PairViews
from xrayssl.models.encoders import Encoder
from xrayssl.models.methods import barlow, byol, moco, simclr, simsiam, vicreg
from xrayssl.models.methods.base import PairMethod, Schedule
from xrayssl.models.methods.registry import METHODS

__all__ = [
    "METHODS", "PairMethod", "Schedule", "barlow", "build_method", "byol", "check_method", "moco",
    "simclr", "simsiam", "vicreg",
]


def build_method(
    name: str,
    encoder: Encoder,
    *,
    views: PairViews,
    schedule: Schedule,
    options: dict[str, Any] | None = None,
) -> PairMethod:
    """Build a registered method; ``options`` are its own keyword arguments (checked by name)."""
    check_method(name, options)
    return METHODS.get(name)(encoder, views=views, schedule=schedule, **dict(options or {}))


def check_method(name: str, options: dict[str, Any] | None = None) -> None:
    """Fail now on an unknown method ("did you mean") or an option it does not take."""
    cls = METHODS.get(name)
    params = inspect.signature(cls.__init__).parameters
    own = [p for p in params if p not in ("self", "encoder", "views", "schedule")]
    unknown = sorted(set(options or {}) - set(own))
    if unknown:
        raise XraySSLError(
            f"method {name!r} has no option(s) {', '.join(unknown)}; it takes: {', '.join(own)}"
        )
