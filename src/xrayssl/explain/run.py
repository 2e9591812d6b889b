"""Explain one or several encoders on the same images: CAMs, overlays, a comparison sheet and
localization scores, written to one folder.

Output folder::

    comparison.png                 same images (TP / FN / FP of the first model) x models
    overlays/<model>/<index>.png   one overlay per image and model
    explain.json                   models, localization scores, the images and cases shown
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from xrayssl.atomic import atomic_write_json
from xrayssl.data.cache import PreparedCache
from xrayssl.errors import XraySSLError
from xrayssl.evaluate.features import READOUTS, Readout
from xrayssl.explain.gradcam import ShowOn, compute_cams, display_images
from xrayssl.explain.localization import localization_score
from xrayssl.explain.sheets import ExplainedModel, comparison_sheet, save_overlays, select_cases
from xrayssl.runs.folder import ExplainFolder, RunFolder


@dataclass
class ModelToExplain:
    """An encoder with, optionally, the probe whose logit is the Grad-CAM target."""

    name: str
    encoder: nn.Module
    probe_linear: nn.Linear | None = None
    run: str | None = None  # the study run folder it came from, if any
    readout: Readout = "final"  # the features the probe was fit on


def load_model(encoder_path: Path, probe_path: Path | None = None,
               name: str | None = None) -> ModelToExplain:
    """Load ``encoder.pt`` (and ``probe.json``); a run folder holding both may be given."""
    from xrayssl.evaluate.probe import LinearProbe
    from xrayssl.models.encoders import load_encoder

    encoder_path = Path(encoder_path)
    if encoder_path.is_dir():
        folder = encoder_path
        run = RunFolder(folder)
        encoder_path = run.encoder
        if probe_path is None and run.probe.is_file():
            probe_path = run.probe
    encoder, meta = load_encoder(encoder_path)
    probe = LinearProbe.load(probe_path) if probe_path is not None else None
    linear = probe.as_linear() if probe is not None else None
    readout: Readout = "final"
    if probe is not None:
        # Probe files written before the readout was recorded: a probe wider than the final
        # vector was fit on the multi-scale pool (the only other readout).
        recorded = probe.readout or ("final" if len(probe.coef) == encoder.feature_dim
                                     else "multiscale")
        if recorded not in READOUTS:
            raise XraySSLError(f"{probe_path}: unknown readout {recorded!r}; known: "
                               f"{', '.join(READOUTS)}")
        readout = recorded
    if name is None:
        policy = meta.get("policy")
        method = meta.get("method")
        name = " ".join(str(part) for part in (method, policy) if part) or encoder_path.parent.name
    return ModelToExplain(name=name, encoder=encoder, probe_linear=linear, readout=readout)


def pick_images(cache: PreparedCache, split: str | None, max_images: int, seed: int) -> np.ndarray:
    """Labelled images (else any) of ``split`` (default: test, else val, else all), at most
    ``max_images`` drawn with a seeded generator, in cache order."""
    if split is None:
        present = {r.split for r in cache.records}
        split = next((s for s in ("test", "val") if s in present), None)
    elif split == "all":
        split = None
    pool = cache.select(splits=[split] if split else None, labelled_only=True)
    if pool.size == 0:  # unlabelled images can still be explained, without TP/FN/FP rows
        pool = cache.select(splits=[split] if split else None)
    if pool.size == 0:
        raise XraySSLError(
            f"{cache.root}: no images{f' in split {split!r}' if split else ''} "
            "to explain; choose another --split"
        )
    if pool.size > max_images:
        pool = np.sort(np.random.default_rng(seed).choice(pool, size=max_images, replace=False))
    return pool


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+=-]+", "_", name).strip("_") or "model"


@dataclass
class ExplainSummary:
    out_dir: Path
    sheet: Path
    localization: dict[str, dict[str, float | int] | None]  # model name -> score (None: no masks)


ModelSource = ModelToExplain | Callable[[], ModelToExplain]


def explain_models(
    models: Sequence[ModelSource],
    cache: PreparedCache,
    out_dir: Path,
    *,
    split: str | None = None,
    max_images: int = 64,
    per_kind: int = 3,
    show_on: ShowOn = "original",
    seed: int = 0,
    device: str | torch.device | None = None,
    batch_size: int = 32,
    in_sheet: Sequence[int] | None = None,
    overlays: bool = True,
    sheet_note: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> ExplainSummary:
    """CAMs of every model on the same images; sheet rows chosen from the first sheet model.

    A model may be given as a function that loads it, so a whole study is explained with one
    encoder in memory at a time. ``in_sheet``: positions of the models shown as sheet columns
    (default all); every model gets a localization score. ``sheet_note`` says why the sheet
    shows only some of the models (written on the sheet and into explain.json).
    """
    if not models:
        raise XraySSLError("no model to explain")
    columns = list(range(len(models))) if in_sheet is None else list(in_sheet)
    run_device = device if device is not None else (
        "cuda" if torch.cuda.is_available() else "cpu"
    )
    indices = pick_images(cache, split, max_images, seed)
    labels = cache.labels[indices]
    batch = np.asarray(cache.images[indices])  # (N, S, S) uint8
    masks = np.asarray(cache.masks[indices]) if cache.masks is not None else None
    scored = (labels == 1) & np.any(masks > 0, axis=(1, 2)) if masks is not None else None
    shown = display_images(cache, [int(i) for i in indices], show_on)
    explained: dict[int, ExplainedModel] = {}
    entries: list[dict[str, Any]] = []
    for position, source in enumerate(models):
        model = source if isinstance(source, ModelToExplain) else source()
        if progress is not None:
            progress(f"  Grad-CAM {position + 1}/{len(models)}: {model.name} "
                     f"({len(indices)} images)")
        if model.name in {entry["name"] for entry in entries}:
            raise XraySSLError(f"two models are named {model.name!r}; names must differ")
        result = compute_cams(model.encoder, batch, probe_linear=model.probe_linear,
                              readout=model.readout, batch_size=batch_size, device=run_device)
        score = None
        if masks is not None and scored is not None and scored.any():
            score = localization_score(result.cams[scored], masks[scored]).to_dict()
        entries.append({"name": model.name, "run": model.run, "localization": score,
                        "target": "probe logit" if model.probe_linear is not None
                        else "own embedding", "readout": model.readout})
        if position in columns:
            explained[position] = ExplainedModel(model.name, result.cams, result.scores)
        if overlays:
            save_overlays(ExplainFolder(out_dir).overlays / safe_name(model.name), shown.images,
                          result.cams, [f"{int(i):06d}" for i in indices])
        del model, result
    sheet_models = [explained[p] for p in columns if p in explained]
    cases = select_cases(labels, sheet_models[0].scores, per_kind=per_kind)
    image_labels = [f"{cache.records[int(i)].body_part} #{int(i)}" for i in indices]
    caption = None
    if len(sheet_models) < len(models):
        caption = (f"{len(sheet_models)} of {len(models)} models: "
                   f"{sheet_note or 'the columns asked for'}")
    sheet = comparison_sheet(ExplainFolder(out_dir).sheet, shown.images, cases, sheet_models, masks,
                             image_labels, caption=caption)
    record: dict[str, Any] = {
        "models": entries,
        "sheet_columns": [m.name for m in sheet_models],
        "sheet_note": caption,
        "cache": str(cache.root),
        "images": [int(i) for i in indices],
        "cases": [{"index": int(indices[c.position]), "kind": c.kind} for c in cases],
        "case_rows_from": sheet_models[0].name,
        "shown_on": show_on,
        "originals_missing": {str(int(indices[p])): why for p, why in shown.fallbacks.items()},
    }
    atomic_write_json(ExplainFolder(out_dir).record, record)
    return ExplainSummary(out_dir=out_dir, sheet=sheet,
                          localization={e["name"]: e["localization"] for e in entries})
