"""Randomized linear algebra whose matrix products may run on analog arrays.

The algorithms take their large products as `Product`s (`products.py`): the same code runs
with every product in float64 (`DigitalProduct`, the reference) or on a chip's crossbars
(`ArrayProduct`). Everything else, the small factorizations and the residuals, is digital
float64 and counted in `Digital` (multiply-adds and bytes), so that `cost.py` can price it.

- `randomized_svd` (Halko, Martinsson, Tropp 2011): Y = A Omega with a Gaussian Omega, `power`
  passes Y = A (A^T Y), Q = orth(Y), B = Q^T A, the SVD of the small B. The arrays hold Omega,
  A and A^T; QR and the small SVD are digital.
- `sketch_and_solve`: min ||S A x - S b|| for a random embedding S held in the arrays (S A
  computed as (A^T S^T)^T, the columns of A streamed through S^T); its answer carries the
  arrays' noise, the floor that refinement removes.
- `refined_lstsq`: iterative refinement (Wilkinson; mixed precision) around a
  sketch-preconditioned CGLS (Rokhlin-Tygert / Blendenpik): the sketch's R makes B = A R^-1
  well conditioned, B and B^T are held in the arrays, the residual r = b - A x is computed
  digitally in float64, the correction min ||B y - r|| is solved by CGLS with its products on
  the arrays, and x += R^-1 y. The arrays' relative error shrinks each correction by a constant
  factor, so x reaches the digital solution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

Product = Callable[[np.ndarray], np.ndarray]  # X (batch, n) -> X @ M (batch, m)

SKETCHES = ("gaussian", "sign", "sparse")


@dataclass
class Digital:
    """Digital work of an algorithm, by step: multiply-adds and bytes read or written."""

    macs: dict[str, float] = field(default_factory=dict)
    bytes: dict[str, float] = field(default_factory=dict)

    def add(self, step: str, macs: float, nbytes: float = 0.0) -> None:
        self.macs[step] = self.macs.get(step, 0.0) + float(macs)
        self.bytes[step] = self.bytes.get(step, 0.0) + float(nbytes)

    @property
    def total_macs(self) -> float:
        return sum(self.macs.values())

    @property
    def total_bytes(self) -> float:
        return sum(self.bytes.values())


def embedding(kind: str, rows: int, cols: int, seed: int) -> np.ndarray:
    """A random embedding S (rows x cols) with E[S^T S] = I: Gaussian N(0, 1/rows), random signs
    +-1/sqrt(rows), or a sparse sign embedding (`min(8, rows)` nonzeros +-1/sqrt(nnz) per
    column, the CountSketch family)."""
    rng = np.random.default_rng([seed, 0x5CE7C4])
    if kind == "gaussian":
        return rng.standard_normal((rows, cols)) / np.sqrt(rows)
    if kind == "sign":
        return rng.choice([-1.0, 1.0], size=(rows, cols)) / np.sqrt(rows)
    if kind == "sparse":
        nnz = min(8, rows)
        s = np.zeros((rows, cols))
        for j in range(cols):
            s[rng.choice(rows, nnz, replace=False), j] = rng.choice([-1.0, 1.0], nnz)
        return s / np.sqrt(nnz)
    raise ValueError(f"unknown sketch {kind!r}; sketches: {', '.join(SKETCHES)}")


def _qr_macs(m: int, n: int) -> float:
    """Householder QR of an m x n matrix (m >= n): 2 m n^2 - 2 n^3 / 3 flops, half as MACs."""
    return m * n * n - n ** 3 / 3


@dataclass
class SVDResult:
    """The leading right singular vectors V (n x k) and singular values of a matrix."""

    vt: np.ndarray  # k x n
    s: np.ndarray


def randomized_svd(a_matrix: np.ndarray, omega: Product, a: Product, at: Product | None,
                   k: int, oversample: int, power: int, digital: Digital,
                   project: Product | None = None) -> SVDResult:
    """Rank-k SVD of A (m x n, `a_matrix`, whose rows stream in from memory): `omega` gives
    X @ Omega (n x (k + oversample)), `a` gives X @ A, `at` gives X @ A^T (for power passes),
    `project` gives X @ A for the final B = Q^T A (default `a`): the range finder only has to
    capture the leading subspace, while B's noise lands in the singular vectors themselves."""
    m, n = a_matrix.shape
    digital.add("stream A's rows", 0, 4 * m * n)
    y = omega(a_matrix)  # Y = A Omega
    for _ in range(power):
        q = _orth(y, digital, "orthonormalize")
        z_t = a(q.T)  # Z^T = Q^T A
        y = at(z_t).T  # Y = A Z = (Z^T A^T)^T
    q = _orth(y, digital, "orthonormalize")
    b = (project or a)(q.T)  # B = Q^T A
    _, s, vt = np.linalg.svd(b, full_matrices=False)
    l_ = b.shape[0]
    digital.add("small SVD", 2 * l_ * l_ * n + 11 * l_ ** 3, 8 * b.size)
    return SVDResult(vt[:k], s[:k])


def _orth(y: np.ndarray, digital: Digital, step: str) -> np.ndarray:
    q, _ = np.linalg.qr(y)
    digital.add(step, _qr_macs(*y.shape), 16 * y.size)
    return q


@dataclass
class LstsqResult:
    """A least-squares answer and how it got there."""

    x: np.ndarray  # the iterate with the smallest residual
    rel_residuals: list[float]  # ||b - A x|| / ||b|| after sketch-and-solve, then each step
    inner_iterations: int = 0


def sketch_and_solve(sketch_t: Product, a_matrix: np.ndarray, b: np.ndarray,
                     digital: Digital) -> tuple[np.ndarray, np.ndarray]:
    """(x, R): min ||S A x - S b|| with S A and S b from the arrays holding S^T, solved by QR
    of S A (digital); R is the preconditioner."""
    m, n = a_matrix.shape
    sa_sb = sketch_t(np.vstack([a_matrix.T, b[None, :]])).T  # (s x (n + 1))
    sa, sb = sa_sb[:, :n], sa_sb[:, n]
    q, r = np.linalg.qr(sa)
    digital.add("QR of the sketch", _qr_macs(*sa.shape), 16 * sa.size)
    x = np.linalg.solve(r, q.T @ sb)
    digital.add("sketch-and-solve", sa.size + n * n / 2, 8 * sa.size)
    return x, r


def refined_lstsq(b_op: Product, bt_op: Product, a_matrix: np.ndarray, b: np.ndarray,
                  x0: np.ndarray, r_pre: np.ndarray, digital: Digital, *, steps: int = 30,
                  inner: int = 6, tol: float = 1e-3) -> LstsqResult:
    """Iterative refinement from x0: r = b - A x in float64, then `inner` CGLS iterations on
    min ||B y - r|| for the preconditioned B = A R^-1 held in the arrays (`b_op`: X @ B,
    `bt_op`: X @ B^T), d = R^-1 y, x += d. B is well conditioned, so the arrays' relative error
    stays a relative error of the correction and each step shrinks the error by a constant
    factor (A itself would amplify it by its condition number). Stops after `steps`
    corrections, or when the residual has not fallen by `tol` (relative) in two steps running:
    the arrays' noise floor. Returns the iterate with the smallest residual."""
    m, n = a_matrix.shape
    x = x0.copy()
    norm_b = float(np.linalg.norm(b))
    r = b - a_matrix @ x
    residuals = [float(np.linalg.norm(r)) / norm_b]
    digital.add("residual (float64)", m * n, 8 * (m * n + m + n))
    stalled, iterations, best = 0, 0, x
    for _ in range(steps):
        y = _cgls(b_op, bt_op, r, inner, digital)
        iterations += inner
        x = x + np.linalg.solve(r_pre, y)
        r = b - a_matrix @ x
        residuals.append(float(np.linalg.norm(r)) / norm_b)
        digital.add("residual (float64)", m * n + n * n / 2, 8 * (m * n + m + 2 * n))
        if residuals[-1] <= min(residuals[:-1]):
            best = x
        stalled = stalled + 1 if residuals[-1] > residuals[-2] * (1 - tol) else 0
        if stalled >= 2:
            break
    return LstsqResult(best, residuals, iterations)


def precondition(a_matrix: np.ndarray, r_pre: np.ndarray, digital: Digital) -> np.ndarray:
    """B = A R^-1, formed digitally once (a triangular solve per row of A)."""
    m, n = a_matrix.shape
    digital.add("form A R^-1", m * n * n / 2, 8 * 2 * m * n)
    return np.linalg.solve(r_pre.T, a_matrix.T).T


def _cgls(b_op: Product, bt_op: Product, rhs: np.ndarray, iterations: int,
          digital: Digital) -> np.ndarray:
    """CGLS on min ||B y - rhs||: B^T u from `b_op` (u @ B), B v from `bt_op` (v @ B^T)."""
    r = rhs.copy()
    s = b_op(r)[0]
    y = np.zeros_like(s)
    p, gamma = s.copy(), float(s @ s)
    for _ in range(iterations):
        if gamma == 0.0:
            break
        q = bt_op(p)[0]
        alpha = gamma / float(q @ q)
        y += alpha * p
        r -= alpha * q
        s = b_op(r)[0]
        gamma_new = float(s @ s)
        p = s + (gamma_new / gamma) * p
        gamma = gamma_new
    m, n = rhs.shape[0], y.shape[0]
    digital.add("CGLS vector updates", iterations * (3 * m + 3 * n),
                iterations * 8 * (3 * m + 3 * n))
    return y
