"""How the AI Hub X-ray release names things: its image and label folders, its splits, its
category folders (``TS_01.ChestPA_Normal`` or the seed study's ``ChestPA_Normal``) and the
body parts and conditions they state. The loader that pairs images with their label JSONs is
:mod:`.aihub`."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

IMAGES_DIR = "01.원천데이터"  # "source data"
LABELS_DIR = "02.라벨링데이터"  # "labelling data"
# The release says Training/Validation; the seed study's reorganised copy says Train.
SPLIT_DIRS = {"Training": "train", "Train": "train", "Validation": "valid"}
# Folder spelling -> body part name on the records (lower case, like MURA's).
BODY_PARTS = {
    "ChestPA": "chestpa",
    "Mammography": "mammography",
    "PNS": "pns",
    "Facial_bone": "facial_bone",
    "Foot": "foot",
}
NORMAL = "normal"
GENERIC_CONDITIONS = {"normal", "abnormal"}  # a folder that names no disease
# ``TS_01.ChestPA_Normal`` (the release) or ``ChestPA_Normal`` (the seed study's copy).
_CATEGORY = re.compile(r"^(?:(?P<prefix>[A-Za-z]+)_(?P<number>\d+)\.)?(?P<rest>[^.].*)$")


def nfc(text: str) -> str:
    """Korean names copied through macOS arrive decomposed (NFD); compare them composed."""
    return unicodedata.normalize("NFC", text)


@dataclass(frozen=True)
class Category:
    """``VS_05.Foot_Hallux_Valgus`` -> key ``05.Foot_Hallux_Valgus``, foot, Hallux_Valgus."""

    key: str
    body_part: str
    condition: str

    @property
    def label(self) -> int:
        return 0 if self.condition.lower() == NORMAL else 1


def parse_category(name: str) -> Category | None:
    """The category a folder (or ``.zip``) name states; None if it is not one."""
    stem = nfc(name)
    if stem.lower().endswith(".zip"):
        stem = stem[: -len(".zip")]
    match = _CATEGORY.match(stem)
    if match is None:
        return None
    rest = match["rest"].replace(" ", "_")  # "Facial bone" is spelled both ways
    for folder, part in sorted(BODY_PARTS.items(), key=lambda item: -len(item[0])):
        if rest.lower().startswith(folder.lower() + "_") and len(rest) > len(folder) + 1:
            condition = rest[len(folder) + 1:]
            key = f"{folder}_{condition}"
            if match["number"] is not None:
                key = f"{match['number']}.{key}"
            return Category(key=key, body_part=part, condition=condition)
    return None
