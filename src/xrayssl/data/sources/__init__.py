"""Every supported source layout -> records, and ``load_source`` that tells them apart.

Each layout is one class in the ``SOURCES`` registry (:mod:`.layout`), in its own module:

* ``mura``: a MURA v1.1 tree (:mod:`.mura`)
* ``aihub``: the AI Hub synthetic X-ray release (:mod:`.aihub`)
* ``manifest``: a CSV with ``path,label[,body_part,patient_id,study_id,split]``, or a folder
  holding ``labels.csv`` / ``manifest.csv`` with a ``path`` column
* ``npz``: MedMNIST ``{train,val,test}_images`` with ``{train,val,test}_labels``
* ``dicom``: a folder of ``*.dcm`` (or extension-less Part-10) files
* ``folders``: class folders ``root/[<split>/]<label>/**/*.png``

Loaders do not open images: a missing or broken file is found and reported by ``prepare``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from xrayssl.data.io import IMAGE_SUFFIXES
from xrayssl.data.records import Record

# Importing a layout module registers its layout.
from xrayssl.data.sources import aihub, dicom_folder, folders, manifest, mura, npz
from xrayssl.data.sources.dicom_folder import load_dicom_folder
from xrayssl.data.sources.folders import load_class_folders
from xrayssl.data.sources.layout import (
    SOURCES,
    SPLIT_ALIASES,
    SourceLayout,
    filter_body_parts,
    layouts_in_order,
)
from xrayssl.data.sources.manifest import MANIFEST_NAMES, load_manifest
from xrayssl.data.sources.mura import MURA_DIR
from xrayssl.data.sources.npz import load_npz
from xrayssl.errors import XraySSLError
from xrayssl.registry import Registry

__all__ = [
    "SOURCES", "SPLIT_ALIASES", "SourceLayout", "aihub", "detect_source", "dicom_folder",
    "filter_body_parts", "folders", "load_class_folders", "load_dicom_folder",
    "load_manifest", "load_npz", "load_source", "manifest", "mura", "npz",
]


def detect_source(path: Path, layouts: Registry[type[SourceLayout]] = SOURCES) -> str:
    """The name of the first layout, by priority, that recognises ``path``."""
    if not path.exists():
        raise XraySSLError(f"source not found: {path}")
    for layout in layouts_in_order(layouts):
        if layout.detect(path):
            return layout.name
    if path.is_file():
        raise XraySSLError(
            f"{path}: a source file must be a .csv manifest or a MedMNIST .npz; "
            "otherwise point at a folder"
        )
    raise XraySSLError(
        f"no images found in {path} (looked for {', '.join(IMAGE_SUFFIXES)} files, "
        f"a {MURA_DIR}/ tree, {' or '.join(MANIFEST_NAMES)}; known layouts: "
        f"{', '.join(layouts.names())})"
    )


def load_source(
    path: Path | str,
    *,
    kind: str | None = None,
    label_map: dict[str, int] | None = None,
    body_parts: Sequence[str] | None = None,
    body_part: str | None = None,
) -> list[Record]:
    """Records from any supported source; ``kind`` forces a layout (one of ``SOURCES``);
    ``body_part`` names the body part of images whose source names none."""
    path = Path(path).expanduser().resolve()
    layout = SOURCES.get(kind if kind is not None else detect_source(path))
    if body_part is not None:
        from xrayssl.data.body_part import name_body_part
        from xrayssl.data.sources.layout import filter_body_parts

        named = name_body_part(layout.load(path, label_map=label_map), body_part, path)
        return filter_body_parts(named, body_parts)
    return layout.load(path, label_map=label_map, body_parts=body_parts)
