"""Shared config plumbing: strict models and YAML loading with errors that name the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from xrayssl.errors import XraySSLError

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for every config model: unknown fields are errors, values are validated on set."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


def describe_validation_error(err: ValidationError, where: str) -> str:
    lines = [f"invalid configuration in {where}:"]
    for problem in err.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        lines.append(f"  {field}: {problem['msg']}")
    return "\n".join(lines)


def validate(model: type[M], data: Any, where: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise XraySSLError(describe_validation_error(err, where)) from None


def load_yaml(model: type[M], path: Path) -> M:
    if not path.is_file():
        raise XraySSLError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise XraySSLError(f"{path} is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise XraySSLError(f"{path}: expected a mapping of fields at the top level")
    return validate(model, data, str(path))
