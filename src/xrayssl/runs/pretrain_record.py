"""``pretrain.json``: what a finished pretraining run did, written last by ``run_pretraining``.

Its presence with ``epochs_completed`` at the asked epochs is what tells a resumed trial that
pretraining is done. Unknown keys are kept, so older and newer files read alike.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from xrayssl.atomic import atomic_write_json


class PretrainRecord(BaseModel):
    model_config = ConfigDict(extra="allow")

    config: dict[str, Any] = Field(default_factory=dict)  # the PretrainConfig as JSON
    cache: str | None = None
    encoder: str | None = None  # the encoder file's name in the run folder
    epochs_completed: int = 0
    pairs_per_second: float | None = None
    history: list[dict[str, Any]] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    world_size: int | None = None
    torch_threads: int | None = None

    def write(self, path: Path) -> None:
        atomic_write_json(path, self.model_dump(mode="json"))

    @classmethod
    def read(cls, path: Path) -> PretrainRecord | None:
        """None for a missing or damaged file: that pretraining did not finish."""
        try:
            return cls.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValidationError):
            return None
