"""The linear probe: standardised frozen features -> logistic regression.

``C`` (inverse L2 strength) is chosen by cross-validation on the training split only, with
folds that keep every patient's images together (StratifiedGroupKFold): otherwise a probe
could be rewarded for recognising a patient it already saw. Class imbalance is handled with
``class_weight="balanced"`` by default (each class weighs half of the loss), so the 0.5
threshold used by the metrics is a sensible operating point on skewed data.

The solver suits the shape. The L2-penalised logistic loss is strictly convex, so any solver
that converges finds the same probe; what differs is the time. L-BFGS on standardised raw
pixels (thousands of strongly correlated columns) needs hundreds of iterations per C;
scikit-learn's ``newton-cholesky`` forms the (D, D) Hessian for every Newton step. The
default, ``solver="path-newton"`` (:mod:`.logistic_path`), forms the curvature about once per
C and solves each Newton step by preconditioned conjugate gradients, warm-started along
ascending C. When the features are wider than the training rows (D > N), the inputs are first
rotated onto the row space of the standardised training matrix (at most N directions, from
its SVD): the L2 solution always lies in that space (the gradient of the loss is a
combination of the rows), so this is the same probe in fewer coordinates, not an
approximation. ``solver="lbfgs"`` and ``"newton-cholesky"`` keep scikit-learn's fits for
comparison.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.preprocessing import StandardScaler

from xrayssl.atomic import atomic_write_json
from xrayssl.errors import XraySSLError
from xrayssl.evaluate.logistic_path import LogisticPath, balanced_weights

DEFAULT_CS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
FALLBACK_C = 1.0
PROBE_FORMAT = "xrayssl-linear-probe-v1"
Solver = Literal["path-newton", "newton-cholesky", "lbfgs"]
SOLVERS: tuple[Solver, ...] = ("path-newton", "newton-cholesky", "lbfgs")


@dataclass
class LinearProbe:
    """A fitted probe: ``P(abnormal | x) = sigmoid(coef . (x - mean) / scale + intercept)``."""

    mean: np.ndarray  # (D,)
    scale: np.ndarray  # (D,)
    coef: np.ndarray  # (D,)
    intercept: float
    C: float
    class_weight: str | None
    selection: dict[str, Any] = field(default_factory=dict)
    readout: str | None = None  # the encoder features it was fit on; None: not recorded

    def decision_function(self, features: np.ndarray) -> np.ndarray:
        """Logits (N,) for raw features (N, D)."""
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[1] != len(self.coef):
            raise XraySSLError(
                f"probe expects features of shape (N, {len(self.coef)}), got {features.shape}"
            )
        logits: np.ndarray = ((features - self.mean) / self.scale) @ self.coef + self.intercept
        return logits

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """P(abnormal) (N,)."""
        logits = self.decision_function(features)
        prob: np.ndarray = 1.0 / (1.0 + np.exp(-logits))
        return prob

    def as_linear(self) -> torch.nn.Linear:
        """An nn.Linear(D, 1) on raw features giving the same logit (standardisation folded in),
        so Grad-CAM can backpropagate the probe's decision into the encoder."""
        weight = self.coef / self.scale  # (D,)
        bias = self.intercept - float(np.dot(weight, self.mean))
        layer = torch.nn.Linear(len(self.coef), 1)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(weight).float()[None, :])
            layer.bias.fill_(bias)
        return layer

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": PROBE_FORMAT,
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
            "C": self.C,
            "class_weight": self.class_weight,
            "selection": self.selection,
            **({"readout": self.readout} if self.readout is not None else {}),
        }

    def save(self, path: Path) -> None:
        atomic_write_json(Path(path), self.to_dict())

    @classmethod
    def load(cls, path: Path) -> LinearProbe:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise XraySSLError(f"cannot read probe file {path}: {err}") from None
        if not isinstance(data, dict) or data.get("format") != PROBE_FORMAT:
            raise XraySSLError(f"{path} is not an xrayssl probe file (expected {PROBE_FORMAT})")
        return cls(
            mean=np.asarray(data["mean"], dtype=np.float64),
            scale=np.asarray(data["scale"], dtype=np.float64),
            coef=np.asarray(data["coef"], dtype=np.float64),
            intercept=float(data["intercept"]),
            C=float(data["C"]),
            class_weight=data["class_weight"],
            selection=dict(data.get("selection", {})),
            readout=data.get("readout"),
        )


def check_labels(y: np.ndarray, what: str = "the probe", subset: bool = False) -> np.ndarray:
    """``y`` as 0/1 integers, or an error saying what to do: a label subset with one class
    wants a larger fraction; a whole training split with one class wants other data."""
    y = np.asarray(y)
    values = np.unique(y)
    if not set(values.tolist()) <= {0, 1}:
        raise XraySSLError(f"{what} needs labels 0/1, got values {values.tolist()}")
    if len(values) < 2:
        only = int(values[0]) if len(values) else "none"
        advice = ("use a larger label fraction (or more label subsets' patients)" if subset else
                  "every labelled training image has it: check --label-map (folder names other "
                  "than normal/abnormal), or leave the one-class body part out with --body-parts")
        raise XraySSLError(
            f"{what} needs both classes in its training labels, but all {len(y)} images have "
            f"label {only}; {advice}"
        )
    return y.astype(np.int64)


def grouped_folds(
    y: np.ndarray, groups: np.ndarray, n_splits: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds that never split a patient; fewer folds when patients are few.

    Returns [] when some class has fewer than two patients (no meaningful CV possible).
    """
    groups = np.asarray(groups, dtype=str)
    per_class = [len(np.unique(groups[y == c])) for c in (0, 1)]
    n_splits = min(n_splits, *per_class)
    if n_splits < 2:
        return []
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "least populated class" on tiny subsets
        return list(splitter.split(np.zeros(len(y)), y, groups))


def _logistic(
    c: float, class_weight: str | None, max_iter: int, seed: int, solver: Solver
) -> LogisticRegression:
    # Newton steps converge quadratically: a tight tolerance costs one or two more of them.
    tol = 1e-8 if solver == "newton-cholesky" else 1e-4
    return LogisticRegression(
        C=c, class_weight=class_weight, max_iter=max_iter, warm_start=True, random_state=seed,
        solver=solver, tol=tol,
    )


def _fit_quietly(model: LogisticRegression, x: np.ndarray, y: np.ndarray) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)


class RegularisationPath:
    """Probes on one training set for ascending C, each fit warm-starting the next.

    ``fit(c)`` returns ``(coef (D,), intercept)`` on the standardised features.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, class_weight: str | None, max_iter: int,
                 seed: int, solver: Solver) -> None:
        self.scaler = StandardScaler().fit(x)
        z = self.scaler.transform(x)  # (N, D)
        self.y = y
        self.basis: np.ndarray | None = None  # (D, R) orthonormal, R <= N, or no rotation
        if solver != "lbfgs" and z.shape[1] > z.shape[0]:
            _, sing, vt = np.linalg.svd(z, full_matrices=False)  # vt: (N, D)
            keep = sing > sing[0] * max(z.shape) * np.finfo(np.float64).eps  # numerical rank
            self.basis = np.ascontiguousarray(vt[keep].T)
            z = z @ self.basis  # (N, R)
        self.inputs = z
        self.path: LogisticPath | None = None
        self.model: LogisticRegression | None = None
        if solver == "path-newton":
            weights = balanced_weights(y) if class_weight == "balanced" else None
            self.path = LogisticPath(z, y, weights)
        else:
            self.model = _logistic(1.0, class_weight, max_iter, seed, solver)

    def fit(self, c: float) -> tuple[np.ndarray, float]:
        if self.path is not None:
            coef, intercept = self.path.fit(c)
        else:
            assert self.model is not None
            self.model.set_params(C=c)
            _fit_quietly(self.model, self.inputs, self.y)
            coef, intercept = self.model.coef_[0], float(self.model.intercept_[0])
        return (coef if self.basis is None else self.basis @ coef), intercept

    def decision(self, x: np.ndarray, coef: np.ndarray, intercept: float) -> np.ndarray:
        logits: np.ndarray = self.scaler.transform(x) @ coef + intercept  # (M,)
        return logits


def _cv_scores(
    x: np.ndarray,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    cs: tuple[float, ...],
    class_weight: str | None,
    max_iter: int,
    seed: int,
    solver: Solver,
    progress: Callable[[str], None] | None = None,
) -> np.ndarray:
    """Held-out AUROC (n_folds, n_Cs); NaN for a fold whose held-out part has one class."""
    scores = np.full((len(folds), len(cs)), np.nan)
    started = time.perf_counter()
    for f, (train, held) in enumerate(folds):
        if progress is not None:
            progress(f"  choosing C: fold {f + 1}/{len(folds)} ({len(cs)} values each, "
                     f"{time.perf_counter() - started:.0f} s so far)")
        if len(np.unique(y[train])) < 2 or len(np.unique(y[held])) < 2:
            continue
        # Standardised (and rotated) inside the fold: no peeking at the held-out images.
        path = RegularisationPath(x[train], y[train], class_weight, max_iter, seed, solver)
        for j, c in enumerate(cs):  # ascending C: each fit warm-starts the next
            coef, intercept = path.fit(c)
            scores[f, j] = roc_auc_score(y[held], path.decision(x[held], coef, intercept))
    return scores


def fit_probe(
    features: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    seed: int = 0,
    *,
    cs: tuple[float, ...] = DEFAULT_CS,
    n_splits: int = 5,
    class_weight: str | None = "balanced",
    max_iter: int = 1000,
    solver: Solver = "path-newton",
    progress: Callable[[str], None] | None = None,
) -> LinearProbe:
    """Fit a probe on (N, D) features; ``groups`` (patient ids) keep CV folds patient-disjoint.

    ``progress`` hears of each cross-validation fold (wide features make each one slow)."""
    x = np.asarray(features, dtype=np.float64)
    y = check_labels(labels)
    groups = np.asarray(groups, dtype=str)
    if x.ndim != 2 or len(x) != len(y) or len(groups) != len(y):
        raise XraySSLError(
            f"probe inputs do not line up: features {x.shape}, {len(y)} labels, "
            f"{len(groups)} patient ids"
        )
    if not np.isfinite(x).all():
        raise XraySSLError("features contain NaN or infinite values; check the encoder")
    cs = tuple(sorted(float(c) for c in cs))
    if not cs or min(cs) <= 0:
        raise XraySSLError(f"probe C values must be positive, got {list(cs)}")
    if solver not in SOLVERS:
        raise XraySSLError(f"unknown probe solver {solver!r}; known: {', '.join(SOLVERS)}")
    folds = grouped_folds(y, groups, n_splits, seed)
    selection: dict[str, Any] = {"Cs": list(cs), "n_folds": len(folds), "scoring": "roc_auc",
                                 "solver": solver}
    scores = _cv_scores(x, y, folds, cs, class_weight, max_iter, seed, solver,
                        progress) if folds else None
    if scores is None or np.isnan(scores).all():
        best_c = FALLBACK_C
        selection["method"] = "fixed: too few patients per class for grouped cross-validation"
    else:
        mean = np.nanmean(scores, axis=0)
        best_c = cs[int(np.nanargmax(mean))]  # first maximum = strongest regularisation on ties
        selection["method"] = "StratifiedGroupKFold"
        selection["cv_auroc"] = [None if np.isnan(v) else float(v) for v in mean]
    if progress is not None:
        progress(f"  final fit at C = {best_c:g} on {len(y)} images x {x.shape[1]} features")
    path = RegularisationPath(x, y, class_weight, max_iter, seed, solver)
    coef, intercept = path.fit(best_c)
    return LinearProbe(
        mean=np.asarray(path.scaler.mean_, dtype=np.float64),
        scale=np.asarray(path.scaler.scale_, dtype=np.float64),
        coef=np.asarray(coef, dtype=np.float64),
        intercept=intercept,
        C=best_c,
        class_weight=class_weight,
        selection=selection,
    )
