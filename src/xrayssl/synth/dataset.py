"""generate_dataset: render patients in parallel and lay them out exactly like MURA v1.1."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from xrayssl.cpu_share import usable_cpus
from xrayssl.data.records import BODY_PARTS
from xrayssl.errors import XraySSLError
from xrayssl.synth.mura_writer import (
    DATASET_DIR,
    MASKS_DIR,
    MetaRow,
    image_path,
    mask_path_for,
    write_index,
)
from xrayssl.synth.study import PatientPlan, parse_difficulty, render_patient

_SPLIT_TAG = 4  # generator stream for the patient -> split assignment


def parse_parts(parts: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"elbow,wrist"`` or a sequence -> validated, de-duplicated, in the order given."""
    if parts is None:
        return BODY_PARTS
    names = parts.split(",") if isinstance(parts, str) else list(parts)
    cleaned: list[str] = []
    for name in names:
        key = name.strip().lower().removeprefix("xr_")
        if not key:
            continue
        if key not in BODY_PARTS:
            raise XraySSLError(f"unknown body part {name!r}; known: {', '.join(BODY_PARTS)}")
        if key not in cleaned:
            cleaned.append(key)
    if not cleaned:
        raise XraySSLError(f"no body parts given; choose from {', '.join(BODY_PARTS)}")
    return tuple(cleaned)


def plan_patients(parts: Sequence[str], patients: int, valid_fraction: float,
                  seed: int) -> list[PatientPlan]:
    """Spread patients over parts round-robin; hold out a fraction of each part's patients.

    Numbering follows MURA: all training patients first, grouped by part, then validation.
    """
    if patients < 1:
        raise XraySSLError(f"patients must be at least 1 (got {patients})")
    if not 0.0 <= valid_fraction < 1.0:
        raise XraySSLError(f"valid fraction must be in [0, 1) (got {valid_fraction})")
    rng = np.random.default_rng([seed, _SPLIT_TAG])
    train: list[str] = []
    valid: list[str] = []
    for k, part in enumerate(parts):
        count = len(range(k, patients, len(parts)))
        n_valid = round(count * valid_fraction)
        if valid_fraction > 0 and count >= 2:
            n_valid = min(max(n_valid, 1), count - 1)
        is_valid = np.zeros(count, dtype=bool)
        is_valid[rng.permutation(count)[:n_valid]] = True
        train += [part] * int((~is_valid).sum())
        valid += [part] * int(is_valid.sum())
    ordered = [(p, "train") for p in train] + [(p, "valid") for p in valid]
    return [PatientPlan(number=i + 1, part=p, split=s) for i, (p, s) in enumerate(ordered)]


def _write_png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image, [cv2.IMWRITE_PNG_COMPRESSION, 3]):
        raise XraySSLError(f"could not write {path}; check the disk and permissions")


def _render_and_write(job: tuple[PatientPlan, Path, int, int, float, float]) -> list[MetaRow]:
    plan, root, seed, size, difficulty, positive_fraction = job
    cv2.setNumThreads(1)  # parallelism comes from the process pool
    rows: list[MetaRow] = []
    for result in render_patient(plan, seed, size, difficulty, positive_fraction):
        rel = image_path(plan.split, plan.part, plan.number, result.study, result.positive,
                         result.view)
        mask_rel = mask_path_for(rel)
        _write_png(root / rel, result.rendered.image)
        _write_png(root / mask_rel, result.rendered.mask)
        lesion = result.lesion
        height, width = result.rendered.image.shape
        rows.append(MetaRow(
            path=rel, split=plan.split, body_part=plan.part,
            patient_id=f"patient{plan.number:05d}", study=result.study, view=result.view,
            view_name=result.rendered.view, label=int(result.positive),
            kind=lesion.kind if lesion else "none", difficulty=round(difficulty, 4),
            strength=round(lesion.strength, 3) if lesion else 0.0,
            bone=lesion.bone if lesion else "", laterality=result.laterality,
            height=height, width=width, mask_path=mask_rel,
            mask_pixels=int(np.count_nonzero(result.rendered.mask)),
        ))
    return rows


def generate_dataset(
    out: Path,
    parts: str | Sequence[str] | None = None,
    patients: int = 70,
    size: int = 256,
    seed: int = 0,
    difficulty: str | float = "medium",
    workers: int | None = None,
    progress: bool = True,
    valid_fraction: float = 0.2,
    positive_fraction: float = 0.4,
    overwrite: bool = False,
) -> Path:
    """Render a synthetic MURA: ``out/MURA-v1.1`` (images, CSVs, synth_meta.csv) and
    ``out/MURA-v1.1-masks`` (a 0/255 PNG mask for every image; all zero for negatives).

    ``patients`` is the total, spread evenly over ``parts``; ``size`` is the long side of
    each image in pixels. Returns ``out`` (the folder that holds ``MURA-v1.1/``, as
    ``xrayssl.data.sources.mura.load_mura`` expects). The same arguments give identical bytes for
    any ``workers``. Files are rendered into a hidden folder and moved into place at the
    end, so an interrupted run never leaves a half-written dataset behind.
    """
    out = Path(out)
    level = parse_difficulty(difficulty)
    part_names = parse_parts(parts)
    if size < 32:
        raise XraySSLError(f"size must be at least 32 pixels (got {size})")
    if not 0.0 <= positive_fraction <= 1.0:
        raise XraySSLError(f"positive fraction must be in [0, 1] (got {positive_fraction})")
    targets = [out / DATASET_DIR, out / MASKS_DIR]
    existing = [t for t in targets if t.exists()]
    if existing and not overwrite:
        raise XraySSLError(f"{existing[0]} already exists; choose another --out or pass "
                           "--overwrite to replace it")
    plans = plan_patients(part_names, patients, valid_fraction, seed)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".synth-", dir=out))
    try:
        jobs = [(plan, staging, seed, size, level, positive_fraction) for plan in plans]
        n_workers = min(workers or usable_cpus(), len(jobs))
        bar = tqdm(total=len(jobs), desc="synth patients", unit="patient", disable=not progress)
        rows: list[MetaRow] = []
        if n_workers <= 1:
            for job in jobs:
                rows += _render_and_write(job)
                bar.update()
        else:
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            with context.Pool(n_workers) as pool:
                for chunk in pool.imap_unordered(_render_and_write, jobs, chunksize=4):
                    rows += chunk
                    bar.update()
        bar.close()
        write_index(staging, rows)
        for target in existing:
            shutil.rmtree(target)
        for target in targets:
            os.replace(staging / target.name, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out
