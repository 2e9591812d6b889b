"""L2-penalised logistic regression along a path of C values, by preconditioned Newton steps.

The objective is scikit-learn's ``LogisticRegression(penalty="l2")`` with an unpenalised
intercept and per-sample weights ``s`` (``class_weight="balanced"``: each class weighs half)::

    f(w, b) = C * sum_i s_i * log(1 + exp(-t_i (x_i . w + b))) + |w|^2 / 2,   t_i = +-1

so the probe it finds is the same (the loss is strictly convex: one minimum). What differs is
the cost. A plain Newton step forms the (D, D) Hessian X^T diag(h) X (N D^2 multiply-adds) for
every step of every C of every fold. Here each C forms it once, at its warm start (the previous
C's probe), in float32, and its inverse preconditions conjugate gradients that solve the
exact Newton systems with Hessian-vector products (2 N D each); it is formed again only
when the curvature has moved so far that conjugate gradients need many steps.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import expit

Vector = np.ndarray
# Conjugate-gradient steps of one Newton step after which the preconditioner is formed again:
# one refresh costs about as much as 30 of them (N D^2 against 2 N D each, N ~ D).
REFRESH_AFTER = 20


def balanced_weights(y: np.ndarray) -> np.ndarray:
    """scikit-learn's ``class_weight="balanced"``: n / (2 n_class) per sample."""
    counts = np.bincount(y, minlength=2).astype(np.float64)
    weights: np.ndarray = (len(y) / (2.0 * counts))[y]
    return weights


class LogisticPath:
    """Fits on one (N, D) training matrix for C values in ascending order.

    ``fit(c)`` returns ``(coef (D,), intercept)``; each call warm-starts from the last.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None,
                 tol: float = 1e-8, max_newton: int = 100, max_cg: int = 200) -> None:
        n = len(y)
        self.xa = np.hstack([np.asarray(x, dtype=np.float64), np.ones((n, 1))])  # (N, D+1)
        self.y = (np.asarray(y) == 1).astype(np.float64)  # (N,) 0/1
        self.t = 2.0 * self.y - 1.0  # (N,) -1/+1
        self.s = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
        self.reg = np.ones(self.xa.shape[1])
        self.reg[-1] = 0.0  # the intercept is not penalised
        # float32 is plenty for a preconditioner and halves the one O(N D^2) product.
        self.xa32 = self.xa.astype(np.float32)
        self.theta = np.zeros(self.xa.shape[1])
        self.tol, self.max_newton, self.max_cg = tol, max_newton, max_cg
        self.newton_steps = 0
        self.cg_steps = 0
        self.refreshes = 0

    def objective(self, theta: Vector, c: float) -> float:
        loss = np.logaddexp(0.0, -self.t * (self.xa @ theta))  # log(1 + exp(-margin)), stable
        return float(c * np.dot(self.s, loss) + 0.5 * np.dot(self.reg * theta, theta))

    def curvature(self, theta: Vector) -> np.ndarray:
        """X^T diag(s p (1 - p)) X at ``theta`` (the loss's Hessian for C = 1), in float32:
        plenty for a preconditioner, and twice as fast to form and factor."""
        p = expit(self.xa @ theta)
        weights = (self.s * p * (1.0 - p)).astype(np.float32)
        gram: np.ndarray = (self.xa32 * weights[:, None]).T @ self.xa32
        return gram

    def preconditioner(self, c: float, at: Vector) -> np.ndarray:
        """The inverse of the exact Hessian at ``at``, in float32. An explicit inverse (numpy's
        BLAS, like every other product here): SciPy's triangular solves run on a second BLAS
        whose threads fight numpy's for the cores, which made each step several times slower
        on two cores."""
        self.refreshes += 1
        shift = np.diag((self.reg + 1e-6).astype(np.float32))
        inverse: np.ndarray = np.linalg.inv(np.float32(c) * self.curvature(at) + shift)
        return inverse

    def fit(self, c: float) -> tuple[np.ndarray, float]:
        theta = self.theta.copy()
        # The preconditioner: the exact Hessian at the warm start (the previous C's probe),
        # formed once; formed again when conjugate gradients need many steps (the curvature
        # moved: large C on nearly separable data).
        inverse = self.preconditioner(c, theta)
        scale = max(1.0, c * float(self.s.sum()))  # the size of the loss term's gradient
        for _ in range(self.max_newton):
            z = self.xa @ theta
            p = expit(z)  # P(abnormal)
            grad = c * (self.xa.T @ (self.s * (p - self.y))) + self.reg * theta
            if np.max(np.abs(grad)) <= self.tol * scale:
                break
            h = (c * self.s * p * (1.0 - p)).astype(np.float32)  # (N,)

            def hessian_times(v: Vector, h: np.ndarray = h) -> Vector:
                # float32 halves the memory streamed per product (the step only needs to
                # point downhill; the float64 gradient decides convergence).
                data = self.xa32.T @ (h * (self.xa32 @ v.astype(np.float32)))
                out: Vector = data.astype(np.float64) + self.reg * v
                return out

            before = self.cg_steps
            step = self._cg(hessian_times, -grad, inverse)
            theta = self._line_search(theta, step, grad, c)
            self.newton_steps += 1
            if self.cg_steps - before > REFRESH_AFTER:
                inverse = self.preconditioner(c, theta)
        self.theta = theta
        return theta[:-1].copy(), float(theta[-1])

    def _cg(self, apply: Callable[[Vector], Vector], b: Vector, inverse: np.ndarray) -> Vector:
        """Conjugate gradients for ``apply(x) = b`` (``apply`` is SPD), preconditioned by
        ``inverse`` (an approximate inverse of ``apply``)."""

        def precondition(r: Vector) -> Vector:
            return np.asarray(inverse @ r.astype(np.float32), dtype=np.float64)

        x = np.zeros_like(b)
        r = b.copy()
        z = precondition(r)
        d = z.copy()
        rz = float(r @ z)
        target = 1e-10 * float(np.linalg.norm(b))
        for _ in range(self.max_cg):
            ad = apply(d)
            alpha = rz / float(d @ ad)
            x += alpha * d
            r -= alpha * ad
            self.cg_steps += 1
            if float(np.linalg.norm(r)) <= target:
                break
            z = precondition(r)
            rz_next = float(r @ z)
            d = z + (rz_next / rz) * d
            rz = rz_next
        return x

    def _line_search(self, theta: Vector, step: Vector, grad: Vector, c: float) -> Vector:
        """Backtracking (Armijo) from the full Newton step, which is taken near the optimum."""
        current = self.objective(theta, c)
        slope = float(grad @ step)
        size = 1.0
        for _ in range(30):
            candidate = theta + size * step
            if self.objective(candidate, c) <= current + 1e-4 * size * slope:
                return candidate
            size /= 2.0
        return theta + size * step
