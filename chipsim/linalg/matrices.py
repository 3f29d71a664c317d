"""The matrices the linear-algebra studies run on: shipped data sets, synthetic ones, files.

- `digits`: scikit-learn's 1,797 handwritten digits, 64 pixels each (0..16, scaled by 1/16);
  PCA and low-rank approximation (no right-hand side).
- `diabetes`: scikit-learn's diabetes regression set, 442 x 10 standardized features and an
  intercept column (scaled like them), the disease-progression target as b (least squares).
- `synthetic`: an m x n matrix with a chosen spectrum, A = U diag(s) V^T with U, V random
  orthonormal (Gaussian QR, from a seed) and singular values from 1 down to 1 / cond, either
  geometrically (`decay="fast"`) or linearly (`decay="slow"`); for least squares b = A x + e
  with ||e|| = `noise` ||A x||, so the best relative residual is about `noise`.
- a file: `.npy` (the matrix), `.npz` (arrays `A` and optionally `b`) or `.csv` (numbers only;
  with `--target last` for least squares, the last column is b).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chipsim.errors import DataError

NAMED = ("digits", "diabetes", "synthetic")
DECAYS = ("fast", "slow")


@dataclass(frozen=True)
class Problem:
    """A matrix A, optionally a right-hand side b, and where they come from."""

    name: str
    a: np.ndarray
    b: np.ndarray | None
    source: str


def synthetic(rows: int, cols: int, cond: float, *, decay: str = "fast", noise: float = 1e-3,
              seed: int = 0) -> Problem:
    """A matrix of condition number `cond` (and a least-squares right-hand side)."""
    if rows < cols or cols < 1:
        raise DataError(f"synthetic: need rows >= cols >= 1, got {rows} x {cols}")
    if not (np.isfinite(cond) and cond >= 1):
        raise DataError(f"synthetic: --cond must be a number >= 1, got {cond}")
    if decay not in DECAYS:
        raise DataError(f"synthetic: unknown decay {decay!r}; decays: {', '.join(DECAYS)}")
    rng = np.random.default_rng([seed, 0x11A1])
    u, _ = np.linalg.qr(rng.standard_normal((rows, cols)))
    v, _ = np.linalg.qr(rng.standard_normal((cols, cols)))
    s = (np.geomspace(1.0, 1.0 / cond, cols) if decay == "fast"
         else np.linspace(1.0, 1.0 / cond, cols))
    a = (u * s) @ v.T
    x = rng.standard_normal(cols)
    clean = a @ x
    e = rng.standard_normal(rows)
    e -= u @ (u.T @ e)  # orthogonal to range(A): the least-squares optimum leaves it whole
    b = clean + noise * np.linalg.norm(clean) * e / np.linalg.norm(e)
    return Problem("synthetic", a, b, f"synthetic {rows} x {cols}, condition number {cond:g} "
                   f"({decay} decay), b = A x + noise {noise:g} (seed {seed})")


def load_problem(name: str, *, rows: int = 1024, cols: int = 64, cond: float = 1e4,
                 decay: str = "fast", noise: float = 1e-3, seed: int = 0,
                 target: str | None = None) -> Problem:
    """A named matrix (`NAMED`) or a file."""
    if name == "synthetic":
        return synthetic(rows, cols, cond, decay=decay, noise=noise, seed=seed)
    if name in ("digits", "diabetes"):
        return _sklearn(name)
    path = Path(name)
    if not path.exists():
        raise DataError(f"{name}: no such file, and not a named matrix ({', '.join(NAMED)})")
    return _file(path, target)


def _sklearn(name: str) -> Problem:
    try:
        from sklearn import datasets
    except ImportError:
        raise DataError(f"matrix {name!r} needs scikit-learn: pip install chipsim[data]") from None
    if name == "digits":
        a = datasets.load_digits().data / 16.0
        return Problem("digits", a, None, "scikit-learn digits, 1797 x 64 pixels scaled to 0..1")
    bunch = datasets.load_diabetes()
    x = np.asarray(bunch.data, float)
    a = np.hstack([x, np.full((len(x), 1), 1.0 / np.sqrt(len(x)))])  # an intercept column
    return Problem("diabetes", a, np.asarray(bunch.target, float),
                   "scikit-learn diabetes, 442 x 10 standardized features and an intercept, "
                   "target as b")


def _file(path: Path, target: str | None) -> Problem:
    try:
        if path.suffix == ".npy":
            a, b = np.load(path, allow_pickle=False), None
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                if "A" not in z:
                    raise DataError(f"{path}: expected an array named 'A' (and optionally 'b'); "
                                    f"found {', '.join(z.files) or 'none'}")
                a, b = z["A"], z["b"] if "b" in z else None
        elif path.suffix == ".csv":
            a = np.loadtxt(path, delimiter=",", ndmin=2)
            b = None
            if target == "last":
                a, b = a[:, :-1], a[:, -1]
        else:
            raise DataError(f"{path}: unknown matrix file type {path.suffix!r}; "
                            "expected .npy, .npz or .csv")
    except (ValueError, OSError) as err:
        raise DataError(f"{path}: cannot read a matrix: {err}") from None
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2 or min(a.shape) < 1 or not np.all(np.isfinite(a)):
        raise DataError(f"{path}: expected a finite 2-D matrix, got shape {a.shape}")
    if b is not None:
        b = np.asarray(b, dtype=np.float64).reshape(-1)
        if b.shape[0] != a.shape[0] or not np.all(np.isfinite(b)):
            raise DataError(f"{path}: b has {b.shape[0]} finite entries? expected {a.shape[0]}")
    return Problem(path.stem, a, b, f"{path.name}, {a.shape[0]} x {a.shape[1]}")
