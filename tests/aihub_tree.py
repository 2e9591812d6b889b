"""Small AI Hub releases in the real layout (Korean folder names), written into tmp_path.

Abnormal images carry a bright disc on a noisy ramp, normal ones do not, so a probe on them
has a real signal to find.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

RELEASE = "085.주요질환_이미지_합성데이터(X-ray)"
OPEN_DATA = "01-1.정식개방데이터"
IMAGES_DIR = "01.원천데이터"
LABELS_DIR = "02.라벨링데이터"
# (number, folder body part, condition): two of each body part, one normal.
CATEGORIES = [
    (1, "ChestPA", "Normal"),
    (2, "ChestPA", "Abnormal"),
    (3, "Mammography", "Normal"),
    (4, "Mammography", "Abnormal"),
    (5, "Foot", "Normal"),
    (6, "Foot", "Hallux_Valgus"),
    (7, "PNS", "Normal"),
    (8, "PNS", "Haziness"),
    (9, "Facial_bone", "Normal"),
    (10, "Facial_bone", "Abnormal"),
]
SPLITS = {"Training": ("TS", "TL"), "Validation": ("VS", "VL")}


@dataclass
class AihubTree:
    root: Path  # the folder that holds the release folder
    images: dict[str, int] = field(default_factory=dict)  # "train"/"valid" -> paired images
    problems: dict[str, str] = field(default_factory=dict)  # file name -> what is wrong


def film(abnormal: bool, size: int, rng: np.random.Generator) -> np.ndarray:
    ramp = np.linspace(40, 120, size, dtype=np.float32)[None, :].repeat(size, 0)
    image = ramp + rng.normal(0, 12, (size, size))
    if abnormal:
        cy, cx = rng.integers(size // 4, 3 * size // 4, 2)
        ys, xs = np.ogrid[:size, :size]
        image[(ys - cy) ** 2 + (xs - cx) ** 2 < (size // 6) ** 2] += 110
    return np.clip(image, 0, 255).astype(np.uint8)


def png_bytes(image: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", image)
    assert ok
    return encoded.tobytes()


def write_aihub_tree(
    root: Path, per_category: int = 3, size: int = 48, seed: int = 0, zipped: bool = True,
    problems: bool = True,
) -> AihubTree:
    """Write a release below ``root``; counts of what a correct loader pairs are returned.

    ``zipped``: the Validation ChestPA_Normal image and label folders are zip archives.
    ``problems``: a JSON whose image is missing, an image without a JSON, a broken JSON.
    Every JSON's ``filepath`` was written on another (Windows) machine, except in the Foot
    Normal folders, where it is this tree's real path; the JSONs carry keys no loader knows.
    """
    rng = np.random.default_rng(seed)
    tree = AihubTree(root=root)
    base = root / RELEASE / OPEN_DATA
    for split_dir, (image_prefix, label_prefix) in SPLITS.items():
        split = "train" if split_dir == "Training" else "valid"
        count = per_category if split == "train" else max(2, per_category - 1)
        tree.images[split] = 0
        for number, part, condition in CATEGORIES:
            key = f"{number:02d}.{part}_{condition}"
            image_dir = base / split_dir / IMAGES_DIR / f"{image_prefix}_{key}"
            label_dir = base / split_dir / LABELS_DIR / f"{label_prefix}_{key}"
            files: dict[str, bytes] = {}
            labels: dict[str, bytes] = {}
            for k in range(count):
                name = f"{part}_{condition}_{split}_{k:03d}.png"
                files[name] = png_bytes(film(condition != "Normal", size, rng))
                real_path = image_dir / name
                filepath = (str(real_path) if (part, condition) == ("Foot", "Normal") else
                            f"D:\\AIHub\\{RELEASE}\\{split_dir}\\{IMAGES_DIR}\\"
                            f"{image_prefix}_{key}\\{name}")
                labels[name.replace(".png", ".json")] = json.dumps({
                    "filepath": filepath, "filename": name, "label": condition,
                    "annotator": "합성", "image_info": {"width": size, "height": size},
                }, ensure_ascii=False).encode("utf-8")
            tree.images[split] += count
            if problems and split == "train" and key == "02.ChestPA_Abnormal":
                labels["missing.json"] = json.dumps(
                    {"filepath": "D:\\x\\gone.png", "filename": "gone.png", "label": "Abnormal"}
                ).encode("utf-8")
                tree.problems["missing.json"] = "not found"
                files["orphan.png"] = png_bytes(film(True, size, rng))
                tree.problems["orphan.png"] = "without a label JSON"
                labels["broken.json"] = b"{not json"
                tree.problems["broken.json"] = "cannot be read"
            in_zip = zipped and split == "valid" and key == "01.ChestPA_Normal"
            write_folder(image_dir, files, in_zip)
            write_folder(label_dir, labels, in_zip)
    return tree


def write_folder(folder: Path, files: dict[str, bytes], as_zip: bool) -> None:
    if as_zip:
        folder.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(folder.with_name(folder.name + ".zip"), "w") as archive:
            for name, data in files.items():
                archive.writestr(f"{folder.name}/{name}", data)
        return
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)


SEED_PARTS = {"ChestPA": "Nodule", "Facial_bone": "Abnormal", "Foot": "Hallux_Valgus",
              "Mammography": "Abnormal", "PNS": "Haziness"}


def write_seed_tree(root: Path, per_folder: int = 3, size: int = 48, seed: int = 0) -> int:
    """The seed study's reorganised copy of the release: ``aihub/{Train,Validation}/
    {01.원천데이터,02.라벨링데이터}/<Part>_{Normal,Abnormal}/``, images named
    ``<Part>_<Class>_<number>.png``, JSONs ``{filepath, filename, label}`` whose ``label`` is
    the condition (a disease name where the folder says only Abnormal). Returns the images."""
    rng = np.random.default_rng(seed)
    written = 0
    for split_dir in ("Train", "Validation"):
        for part, disease in SEED_PARTS.items():
            for kind in ("Normal", "Abnormal"):
                folder = f"{part}_{kind}"
                for k in range(per_folder):
                    name = f"{folder}_{12000 + written:08d}.png"
                    image_dir = root / "aihub" / split_dir / IMAGES_DIR / folder
                    label_dir = root / "aihub" / split_dir / LABELS_DIR / folder
                    image_dir.mkdir(parents=True, exist_ok=True)
                    label_dir.mkdir(parents=True, exist_ok=True)
                    (image_dir / name).write_bytes(png_bytes(film(kind == "Abnormal", size, rng)))
                    label = "Normal" if kind == "Normal" else disease
                    (label_dir / name.replace(".png", ".json")).write_text(json.dumps({
                        "filepath": f"/home/someone/aihub/{split_dir}/{folder}/{name}",
                        "filename": name, "label": label}))
                    written += 1
                    del k
    return written
