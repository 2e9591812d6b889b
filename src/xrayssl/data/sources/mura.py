"""MURA v1.1 tree (the loader itself is :mod:`xrayssl.data.mura`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from xrayssl.data.mura import MURA_DIR, load_mura
from xrayssl.data.records import Record
from xrayssl.data.sources.layout import SOURCES, SourceLayout


@SOURCES.register()
class MuraTree(SourceLayout):
    name = "mura"
    priority = 10  # a MURA tree is also a tree of PNG folders: it must be asked first

    @staticmethod
    def detect(path: Path) -> bool:
        return path.is_dir() and ((path / MURA_DIR).is_dir() or path.name == MURA_DIR)

    @staticmethod
    def read(path: Path, label_map: dict[str, int] | None) -> list[Record]:
        # MURA's labels come from its study folders and CSVs, so label_map does not apply.
        return load_mura(path)

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        label_map: dict[str, int] | None = None,
        body_parts: Sequence[str] | None = None,
    ) -> list[Record]:
        return load_mura(path, body_parts=body_parts)  # names MURA's own body parts in errors
