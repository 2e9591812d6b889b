"""Is the synthetic MURA learnable but not trivial? A small supervised CNN at several difficulties.

For each difficulty: render a synthetic MURA (~2,000 training images by default), train a
small plain-torch CNN from scratch on the training split (CPU, 2 threads), and report the
validation AUROC: image level overall, study level (mean of the views), by body part, and by
abnormality kind (that kind's positives against all negatives). No model selection on the
validation split: the last epoch is the one reported. With several ``--seeds`` each seed
renders its own dataset and trains its own model; the table shows the mean over seeds and the
image-level line also the range.

    .venv/bin/python bench/synth_learnability.py                 # full: easy, medium, hard
    .venv/bin/python bench/synth_learnability.py --quick         # a smoke run in ~1 minute
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from xrayssl.synth import generate_dataset
from xrayssl.synth.lesions import KINDS

PARTS = ("elbow", "finger", "forearm", "hand", "humerus", "shoulder", "wrist")


def letterbox(image: np.ndarray, size: int) -> np.ndarray:
    """Keep the aspect ratio, pad with black to a square."""
    h, w = image.shape
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    out = np.zeros((size, size), dtype=np.uint8)
    y0, x0 = (size - nh) // 2, (size - nw) // 2
    out[y0:y0 + nh, x0:x0 + nw] = small
    return out


def load(root: Path, size: int) -> tuple[dict[str, np.ndarray], list[dict[str, str]]]:
    with open(root / "MURA-v1.1" / "synth_meta.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    images = np.stack([letterbox(cv2.imread(str(root / r["path"]), cv2.IMREAD_GRAYSCALE), size)
                       for r in rows])
    return {"images": images, "labels": np.array([int(r["label"]) for r in rows])}, rows


class SmallCNN(nn.Module):
    """Five conv-BN-ReLU stages with stride 2, global average + max pooling, one logit."""

    def __init__(self, widths: tuple[int, ...] = (24, 32, 64, 96, 128)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 1
        for i, cout in enumerate(widths):
            layers += [nn.Conv2d(cin, cout, 5 if i == 0 else 3, stride=2,
                                 padding=2 if i == 0 else 1, bias=False),
                       nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            if i > 0:
                layers += [nn.Conv2d(cout, cout, 3, padding=1, bias=False),
                           nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(2 * cin, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x)  # (B, C, S/32, S/32)
        # max pooling keeps a small lesion's response from being averaged away
        z = torch.cat([f.mean(dim=(2, 3)), f.amax(dim=(2, 3))], dim=1)  # (B, 2C)
        return self.head(z).squeeze(1)  # (B,)


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal flip and a shift of up to 1/16 of the side (x: (B, 1, S, S))."""
    b, _, s, _ = x.shape
    flip = torch.rand(b, generator=generator) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    pad = s // 16
    padded = nn.functional.pad(x, (pad, pad, pad, pad))
    dy, dx = torch.randint(0, 2 * pad + 1, (2,), generator=generator).tolist()
    return padded[:, :, dy:dy + s, dx:dx + s]


def train_and_score(data: dict[str, np.ndarray], rows: list[dict[str, str]], epochs: int,
                    seed: int) -> tuple[np.ndarray, float]:
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    split = np.array([r["split"] for r in rows])
    x_all = torch.from_numpy(data["images"]).float().div_(255).unsqueeze(1)  # (N, 1, S, S)
    # per-image standardisation: exposure and window vary from film to film
    x_all = (x_all - x_all.mean(dim=(2, 3), keepdim=True)) / (
        x_all.std(dim=(2, 3), keepdim=True) + 1e-3)
    y_all = torch.from_numpy(data["labels"]).float()
    train_idx = np.flatnonzero(split == "train")
    valid_idx = np.flatnonzero(split == "valid")
    model = SmallCNN()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    batch = 32
    steps = epochs * ((len(train_idx) + batch - 1) // batch)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=steps)
    loss_fn = nn.BCEWithLogitsLoss()
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(train_idx), generator=generator).numpy()
        total = 0.0
        for i in range(0, len(order), batch):
            idx = train_idx[order[i:i + batch]]
            xb = augment(x_all[idx], generator)
            loss = loss_fn(model(xb), y_all[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += float(loss.detach()) * len(idx)
        print(f"    epoch {epoch + 1}/{epochs} loss {total / len(train_idx):.4f} "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    model.eval()
    with torch.no_grad():
        probs = torch.cat([torch.sigmoid(model(x_all[valid_idx[i:i + 256]]))
                           for i in range(0, len(valid_idx), 256)]).numpy()
    return probs, time.perf_counter() - start


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    if len(np.unique(labels)) < 2:
        return float("nan")
    return float(roc_auc_score(labels, scores))


def score_tables(rows: list[dict[str, str]], probs: np.ndarray) -> dict[str, object]:
    valid = [r for r in rows if r["split"] == "valid"]
    y = np.array([int(r["label"]) for r in valid])
    parts = np.array([r["body_part"] for r in valid])
    kinds = np.array([r["kind"] for r in valid])
    studies: dict[str, list[int]] = {}
    for i, r in enumerate(valid):
        studies.setdefault(r["path"].rsplit("/", 1)[0], []).append(i)
    study_y = np.array([y[ix[0]] for ix in studies.values()])
    study_p = np.array([probs[ix].mean() for ix in studies.values()])
    by_part = {p: {"auroc": auroc(y[parts == p], probs[parts == p]),
                   "n": int((parts == p).sum()), "pos": int(y[parts == p].sum())}
               for p in PARTS if (parts == p).any()}
    negatives = y == 0
    by_kind = {}
    for k in KINDS:
        chosen = negatives | (kinds == k)
        by_kind[k] = {"auroc": auroc(y[chosen], probs[chosen]), "pos": int((kinds == k).sum())}
    return {"image_auroc": auroc(y, probs), "study_auroc": auroc(study_y, study_p),
            "n_valid": len(valid), "n_valid_pos": int(y.sum()), "by_part": by_part,
            "by_kind": by_kind}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--difficulties", default="easy,medium,hard")
    parser.add_argument("--patients", type=int, default=800, help="~3.1 images per patient")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seeds", default="0", help="comma-separated; one dataset and model each")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = parser.parse_args()
    if args.quick:
        args.patients, args.size, args.epochs, args.difficulties = 140, 64, 2, "easy,hard"
    torch.set_num_threads(args.threads)
    seeds = [int(v) for v in args.seeds.split(",")]
    results: dict[str, list[dict[str, object]]] = {}
    for difficulty in args.difficulties.split(","):
        for seed in seeds:
            with tempfile.TemporaryDirectory(prefix="synth-learn-") as tmp:
                t0 = time.perf_counter()
                root = generate_dataset(Path(tmp), patients=args.patients, size=args.size,
                                        seed=seed, difficulty=difficulty,
                                        workers=args.workers, progress=False)
                data, rows = load(root, args.size)
                n_train = sum(r["split"] == "train" for r in rows)
                print(f"[{difficulty} seed {seed}] {len(rows)} images ({n_train} train) rendered "
                      f"in {time.perf_counter() - t0:.0f} s", flush=True)
            probs, seconds = train_and_score(data, rows, args.epochs, seed)
            table = score_tables(rows, probs)
            table.update(n_train=n_train, train_seconds=round(seconds), seed=seed)
            results.setdefault(difficulty, []).append(table)
            print(f"[{difficulty} seed {seed}] image AUROC {table['image_auroc']:.3f} "
                  f"study AUROC {table['study_auroc']:.3f}", flush=True)

    names = list(results)

    def mean(values: list[float]) -> float:
        return float(np.nanmean(values))

    def cell(name: str, get: Callable[[dict[str, Any]], float]) -> float:
        return mean([get(t) for t in results[name]])

    print("\nValidation AUROC of a small CNN trained from scratch "
          f"({args.size} px, {args.epochs} epochs; mean over seeds {args.seeds})")
    print(f"{'':22s}" + "".join(f"{n:>18s}" for n in names))

    def line(label: str, get: Callable[[dict[str, Any]], float], spread: bool = False) -> None:
        cells = []
        for n in names:
            text = f"{cell(n, get):.3f}"
            if spread and len(results[n]) > 1:
                values = [get(t) for t in results[n]]
                text += f" ({min(values):.2f}-{max(values):.2f})"
            cells.append(f"{text:>18s}")
        print(f"{label:22s}" + "".join(cells))

    line("image level", lambda t: t["image_auroc"], spread=True)
    line("study level", lambda t: t["study_auroc"], spread=True)
    for part in PARTS:
        line(f"  {part}", lambda t, part=part: t["by_part"][part]["auroc"])  # type: ignore[misc]
    for kind in KINDS:
        line(f"  {kind} vs normal", lambda t, kind=kind: t["by_kind"][kind]["auroc"])  # type: ignore[misc]
    print(f"{'valid positives/kind':22s}" + "".join(
        f"{'/'.join(str(results[n][0]['by_kind'][k]['pos']) for k in KINDS):>18s}"  # type: ignore[index]
        for n in names))
    print(f"{'train / valid images':22s}" + "".join(
        f"{str(results[n][0]['n_train']) + '/' + str(results[n][0]['n_valid']):>18s}"
        for n in names))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
