"""The one reader of YAML files: a mapping at the top level, or one error naming the file,
the line and the column of the problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from xrayssl.errors import XraySSLError


def describe_yaml_error(path: Path, err: yaml.YAMLError) -> str:
    """``study.yaml, line 3, column 6: expected ',' or ']', but got ':'``."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
    context = getattr(err, "context", None)
    return f"{where}: {problem}" + (f" ({context})" if context else "") + \
        "; it is not valid YAML"


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """A YAML file whose top level is a mapping, or one error naming the file."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise XraySSLError(describe_yaml_error(path, err)) from None
    except (OSError, UnicodeDecodeError) as err:
        raise XraySSLError(f"{path} could not be read ({err})") from None
    if not isinstance(data, dict):
        raise XraySSLError(f"{path}: expected a mapping of fields at the top level")
    return data
