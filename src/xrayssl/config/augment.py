"""Augmentation policies inside config models: a spec string checked when the config loads.

Use ``policy: PolicySpec = "identity"`` in a pydantic model: a bad spec fails at load time,
naming the field, with the parser's caret message; a good one is stored in canonical form.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from xrayssl.errors import XraySSLError


def canonical_policy(spec: str) -> str:
    """The canonical form of ``spec``; ValueError (which pydantic reports) when it is invalid."""
    from xrayssl.augment.spec import parse_policy

    try:
        return parse_policy(spec).spec
    except XraySSLError as err:
        raise ValueError(str(err)) from None


PolicySpec = Annotated[str, AfterValidator(canonical_policy)]
