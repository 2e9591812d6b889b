"""Linear-probe fit time: our probe vs a plain, unscaled scikit-learn LogisticRegression.

Features: N x D (default 10,000 x 512) synthetic "encoder outputs" (ReLU, columns on very
different scales, like unnormalised CNN features) with a linear signal, two images per
patient. Both fits see the same training half; AUROC is measured on the other half.

- plain: ``LogisticRegression()`` (C=1, lbfgs, max_iter=100) on the raw features.
- ours, final fit: StandardScaler + LogisticRegression(class_weight="balanced") at one C
  (what the probe costs once C is known).
- ours, full: ``fit_probe`` (C chosen from 6 values by 5-fold StratifiedGroupKFold, warm
  starts along C, then the final fit): what ``xrayssl probe`` spends per label subset.

Rounds alternate between the three (the machine drifts); each prints its seconds; the final
table has the median per method and its ratio to plain.

    python bench/probe.py            # 10,000 x 512, 3 rounds
    python bench/probe.py --quick    # 2,000 x 512, 1 round

``--knee`` compares the probe's solvers instead (``--solvers``, default the new
``path-newton`` against ``newton-cholesky``, the default before), on real radiographs:
knee-oa at 64 px (validation carved from train by patient, as in bench/quality.py), raw
pixels at 32 x 32 (1,024 columns) and a random-init ``resnet_tiny``'s multi-scale features
(240 columns),
100% and 10% of the labels; rounds alternate the solvers; each prints its seconds, C and
validation AUROC (the same convex fit, so the AUROC must agree to noise).

    python bench/probe.py --knee --rounds 1
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from xrayssl.evaluate.probe import SOLVERS, fit_probe


def make_features(n: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    patients = np.arange(n) // 2
    label = rng.integers(0, 2, n // 2 + 1)[patients]
    direction = rng.normal(0, 1, dim) / np.sqrt(dim)
    latent = rng.normal(0, 1, (n, dim)) + 1.5 * label[:, None] * direction[None, :]
    scales = np.exp(rng.uniform(-3, 3, dim))  # columns spanning ~400x in scale
    features = np.maximum(latent, 0) * scales
    return features, label, patients.astype(str)


def knee_solvers(rounds: int, solvers: tuple[str, ...]) -> None:
    """The probe's solvers on knee features, interleaved (default: path-newton, the default,
    against newton-cholesky, the default before it)."""
    import torch
    from quality import DATASETS, protocol_cache  # bench/ is on a bench script's path

    from xrayssl.evaluate.features import extract_features, with_readout
    from xrayssl.evaluate.floors import RawPixels
    from xrayssl.evaluate.splits import label_subset, make_split, patient_ids
    from xrayssl.models.encoders import build_encoder

    source, size, _ = DATASETS["knee"]
    if not source.exists():
        print(f"skipped: {source} is not there (the real radiographs live in ../shared/data)")
        return
    cache = protocol_cache(source, size, 0, Path("runs/bench-quality/knee-64/cache"))
    split = make_split(cache, None)
    both = np.concatenate([split.train, split.val])
    torch.manual_seed(0)
    readers = {
        "raw pixels 32x32": RawPixels(32),
        "random resnet_tiny, multiscale": with_readout(build_encoder("resnet_tiny",
                                                                     image_size=size),
                                                      "multiscale"),
    }
    y_train, y_test = cache.labels[split.train], cache.labels[split.val]
    groups = patient_ids(cache, split.train)
    ten = np.searchsorted(split.train, label_subset(cache, split.train, 0.1, 0))
    rows: list[str] = []
    for name, reader in readers.items():
        x = extract_features(reader, cache, both, device="cpu")
        x_train, x_test = x[: len(split.train)], x[len(split.train):]
        for labels, rows_used in (("100%", np.arange(len(split.train))), ("10%", ten)):
            for r in range(rounds):
                order = solvers if r % 2 == 0 else solvers[::-1]
                for solver in order:
                    started = time.perf_counter()
                    probe = fit_probe(x_train[rows_used], y_train[rows_used], groups[rows_used],
                                      seed=0, solver=solver)  # type: ignore[arg-type]
                    seconds = time.perf_counter() - started
                    score = roc_auc_score(y_test, probe.decision_function(x_test))
                    rows.append(f"| {name} ({x.shape[1]} columns) | {labels} | {solver} | "
                                f"{seconds:.1f} | {probe.C:g} | {score:.4f} |")
                    print(rows[-1], flush=True)
    print("\n| features | labels | solver | seconds | C | val AUROC |\n|---|---|---|---|---|---|")
    print("\n".join(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 x 512 features, 1 round")
    parser.add_argument("--knee", action="store_true",
                        help="the probe's solvers on knee-oa raw pixels and features")
    parser.add_argument("--solvers", default="path-newton,newton-cholesky",
                        help=f"with --knee: which of {', '.join(SOLVERS)} to compare")
    parser.add_argument("--n", type=int, default=None, help="number of images (default 10,000)")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    if args.knee:
        knee_solvers(args.rounds or 1, tuple(s.strip() for s in args.solvers.split(",")))
        return
    n = args.n or (2_000 if args.quick else 10_000)
    rounds = args.rounds or (1 if args.quick else 3)
    x, y, groups = make_features(2 * n, args.dim, seed=0)  # first half trains, second tests
    x_train, y_train, g_train = x[:n], y[:n], groups[:n]
    x_test, y_test = x[n:], y[n:]
    warnings.simplefilter("ignore", ConvergenceWarning)

    def plain() -> np.ndarray:
        model = LogisticRegression().fit(x_train, y_train)
        return np.asarray(model.decision_function(x_test))

    def final_fit() -> np.ndarray:
        model = make_pipeline(
            StandardScaler(), LogisticRegression(C=0.01, class_weight="balanced", max_iter=1000)
        ).fit(x_train, y_train)
        return np.asarray(model.decision_function(x_test))

    def full_probe() -> np.ndarray:
        return fit_probe(x_train, y_train, g_train, seed=0).predict_proba(x_test)

    methods: dict[str, Callable[[], np.ndarray]] = {
        "plain LogisticRegression (unscaled)": plain,
        "ours: scaled final fit (one C)": final_fit,
        "ours: fit_probe (grouped CV over 6 C + fit)": full_probe,
    }
    seconds: dict[str, list[float]] = {name: [] for name in methods}
    auroc: dict[str, float] = {}
    print(f"features {n} x {args.dim} (train) + {n} x {args.dim} (test), {rounds} round(s)")
    for r in range(rounds):
        for name, run in methods.items():
            started = time.perf_counter()
            scores = run()
            seconds[name].append(time.perf_counter() - started)
            auroc[name] = float(roc_auc_score(y_test, scores))
            print(f"round {r + 1}: {name}: {seconds[name][-1]:.2f} s")
    base = statistics.median(seconds["plain LogisticRegression (unscaled)"])
    width = max(len(name) for name in methods)
    print()
    print(f"{'method':<{width}}  median s  x plain  test AUROC")
    for name in methods:
        median = statistics.median(seconds[name])
        print(f"{name:<{width}}  {median:8.2f}  {median / base:7.2f}  {auroc[name]:.4f}")


if __name__ == "__main__":
    main()
