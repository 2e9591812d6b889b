"""AI Hub synthetic X-ray release (the loader itself is :mod:`xrayssl.data.aihub`)."""

from __future__ import annotations

from pathlib import Path

from xrayssl.data import aihub
from xrayssl.data.records import Record
from xrayssl.data.sources.layout import SOURCES, SourceLayout


@SOURCES.register()
class AihubRelease(SourceLayout):
    name = "aihub"
    priority = 20  # its folders hold PNGs: asked before the class-folder catch-all

    @staticmethod
    def detect(path: Path) -> bool:
        return aihub.detect(path)

    @staticmethod
    def read(path: Path, label_map: dict[str, int] | None) -> list[Record]:
        # Labels come from the category folders (Normal -> 0), so label_map does not apply.
        return aihub.load_aihub(path)
