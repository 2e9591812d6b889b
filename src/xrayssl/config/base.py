"""Shared config plumbing: strict models and YAML loading with errors that name the field."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, ValidationError

from xrayssl.errors import XraySSLError
from xrayssl.yaml_file import read_yaml_mapping

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for every config model: unknown fields are errors, values are validated on set."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


def _nearest_field(problem: Mapping[str, Any], model: type[BaseModel] | None) -> str:
    """' (did you mean 'epochs'?)' for a misspelt key of ``model``, else ''."""
    if model is None or problem["type"] != "extra_forbidden":
        return ""
    fields: type[BaseModel] = model
    for part in problem["loc"][:-1]:  # walk into nested models (e.g. data.size)
        info = fields.model_fields.get(str(part))
        annotation = getattr(info, "annotation", None)
        # A nested model, possibly optional (``SynthSettings | None``).
        models = [t for t in (annotation, *get_args(annotation))
                  if isinstance(t, type) and issubclass(t, BaseModel)]
        if not models:
            return ""
        fields = models[0]
    close = difflib.get_close_matches(str(problem["loc"][-1]), list(fields.model_fields), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def describe_validation_error(
    err: ValidationError, where: str, model: type[BaseModel] | None = None
) -> str:
    """One line per problem, the field first; a single problem stays on the first line."""
    problems = []
    for problem in err.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        message = str(problem["msg"]).removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown field"
        problems.append(f"{field}: {message}{_nearest_field(problem, model)}")
    if len(problems) == 1:
        return f"invalid configuration in {where}: {problems[0]}"
    return "\n".join([f"invalid configuration in {where}:", *(f"  {p}" for p in problems)])


def validate(model: type[M], data: Any, where: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise XraySSLError(describe_validation_error(err, where, model)) from None


def load_yaml(model: type[M], path: Path) -> M:
    if not path.is_file():
        raise XraySSLError(f"config file not found: {path}")
    return validate(model, read_yaml_mapping(path), str(path))


# Said wherever a policy is left empty: in a config field and on the command line.
EMPTY_POLICY = ("the augmentation policy is empty; write 'identity' for no augmentation, or ops "
                "like 'crop+flip'")
