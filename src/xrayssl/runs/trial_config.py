"""``config.yaml`` of a trial: the grid point and the exact settings it ran with.

Files written before this schema carry no ``format`` field and have the same fields; they read
as they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from xrayssl.atomic import atomic_write_text
from xrayssl.errors import XraySSLError
from xrayssl.runs.metrics_file import RunIdentity
from xrayssl.yaml_file import read_yaml_mapping

CONFIG_FILE = "config.yaml"
CONFIG_FORMAT: Final = "xrayssl-trial-config-v2"


class TrialConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["xrayssl-trial-config-v2"] = CONFIG_FORMAT
    study: str | None = None
    key: str | None = None
    method: str
    policy: str  # view 1 spec
    policy_b: str | None = None  # view 2 spec of a two-view trial
    seed: int = 0
    # Successive halving: the rung (0 first) and its pretraining epochs; None without halving.
    rung: int | None = None
    epochs: int | None = None
    baseline: str | None = None  # raw / random / supervised: a floor's trial (no pretraining)
    pretrain: dict[str, Any] = Field(default_factory=dict)
    probe: dict[str, Any] = Field(default_factory=dict)
    objective: dict[str, Any] = Field(default_factory=dict)

    def identity(self, epochs: int | None = None) -> RunIdentity:
        """The trial's identity as ``metrics.json`` records it (``run``): the same fields, so a
        trial names itself once."""
        return RunIdentity(kind="trial", method=self.method, policy=self.policy,
                           policy_b=self.policy_b, seed=self.seed, key=self.key,
                           epochs=self.epochs if epochs is None else epochs, rung=self.rung)

    def write(self, path: Path) -> None:
        atomic_write_text(path, yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False))

    @classmethod
    def read(cls, path: Path) -> TrialConfig:
        data = read_yaml_mapping(path)
        data.setdefault("format", CONFIG_FORMAT)  # the first files had no format field
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            fields = "; ".join(f"{'.'.join(map(str, p['loc']))}: {p['msg']}"
                               for p in err.errors()[:5])
            raise XraySSLError(f"{path} is not a trial config.yaml ({fields}); it is written by "
                               "`xrayssl study run`, rerun the trial to rebuild it") from None
