"""The experiments of `chipsim linalg`: each runs one algorithm on analog arrays and in digital,
and returns what it found (accuracy) and what it cost (time, energy), as a JSON-ready dict.

Every product an experiment programs gets a chip seed of its own (`seed * 16 + k` for its k-th
product), so different matrices see independent devices; `seeds` repeats the run on
independently programmed chips, and the cost is that of the first (the event model prices it).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from chipsim.arch import Chip
from chipsim.errors import DataError
from chipsim.linalg.algorithms import (Digital, embedding, precondition, randomized_svd,
                                       refined_lstsq, sketch_and_solve)
from chipsim.linalg.cost import (DigitalReference, price_product, scaling_work,
                                 summarize_costs)
from chipsim.linalg.matrices import Problem
from chipsim.linalg.products import ArrayProduct, DigitalProduct

Log = Callable[[str], None]


class Chips:
    """Makes the array products of one run: chip `chip`, seed `seed`, read at `t_seconds`."""

    def __init__(self, chip: Chip, seed: int, t_seconds: float) -> None:
        self.chip, self.seed, self.t_seconds = chip, seed, t_seconds
        self.made: list[ArrayProduct] = []

    def __call__(self, name: str, matrix: np.ndarray) -> ArrayProduct:
        product = ArrayProduct(name, matrix, self.chip, seed=self.seed * 16 + len(self.made),
                               t_seconds=self.t_seconds)
        self.made.append(product)
        return product


def _price(chips: Chips, digital: Digital, all_digital: Digital, read_mode: str | None,
           all_digital_is: str) -> dict[str, Any]:
    """The cost block of a result: each product priced by the event model, then the summary."""
    reference = DigitalReference.from_chip(chips.chip)
    scaling = Digital()
    for p in chips.made:
        scaling_work(p.calls, scaling)
    products = [price_product(p, read_mode) for p in chips.made]
    summary = summarize_costs(products, digital, scaling, reference, all_digital)
    return {**summary.to_json(), "products": [p.to_json() for p in products],
            "digital_steps_macs": {**digital.macs, **scaling.macs},
            "read_mode": read_mode or chips.chip.default_read_mode, "chip": chips.chip.name,
            "all_digital": all_digital_is,
            "priced": {"analog": "event model of the chip description (per product: energy per "
                                 "vector, first latency, steady interval)",
                       "digital": reference.source}}


def _principal_angle_deg(v: np.ndarray, w: np.ndarray) -> float:
    """The largest principal angle between the row spaces of v and w (orthonormal rows)."""
    cosines = np.linalg.svd(v @ w.T, compute_uv=False)
    return float(np.degrees(np.arccos(np.clip(cosines.min(), -1.0, 1.0))))


def svd_study(problem: Problem, chip: Chip, *, rank: int, centre: bool, oversample: int = 10,
              power: int = 2, seeds: int = 5, seed: int = 0, t_seconds: float = 3600.0,
              read_mode: str | None = "one_phase", log: Log = lambda m: None) -> dict[str, Any]:
    """Randomized PCA (`centre`) or low-rank approximation of `problem.a` at `rank`, on the
    arrays (`seeds` chips) and with every product digital, against the exact SVD."""
    a = problem.a - problem.a.mean(axis=0) if centre else problem.a
    m, n = a.shape
    if not 1 <= rank <= min(m, n) - oversample:
        raise DataError(f"--rank: expected 1 to {min(m, n) - oversample} for a {m} x {n} matrix "
                        f"with oversampling {oversample}, got {rank}")
    _, s_exact, vt_exact = np.linalg.svd(a, full_matrices=False)
    total = float(np.sum(s_exact ** 2))
    ev_exact = np.cumsum(s_exact[:rank] ** 2) / total
    l_ = rank + oversample

    def run(make: Callable[[str, np.ndarray], Any], k: int, digital: Digital):
        omega = np.random.default_rng([seed + k, 0x0E6A]).standard_normal((n, l_))
        at = make("A^T", a.T) if power else None
        project = DigitalProduct("Q^T A", a)  # the final projection in float64
        result = randomized_svd(a, make("Omega", omega), make("A", a), at, rank, oversample,
                                power, digital, project)
        digital.add("final projection Q^T A (float64)", project.calls.macs,
                    8 * (m * n + project.calls.vectors * (m + n)))
        return result

    def score(vt: np.ndarray) -> dict[str, Any]:
        explained = np.cumsum(np.sum((a @ vt.T) ** 2, axis=0)) / total  # by rank 1..k
        residual = np.linalg.norm(a - (a @ vt.T) @ vt) / np.sqrt(total)
        return {"explained_by_rank": explained.tolist(),
                "explained_variance_rel_err": float(explained[-1] / ev_exact[-1] - 1.0),
                "subspace_angle_deg": _principal_angle_deg(vt, vt_exact[:rank]),
                "approx_rel_err": float(residual)}

    digital_run = score(run(lambda name, mat: DigitalProduct(name, mat), 0, Digital()).vt)
    runs, chips0, digital0 = [], None, None
    for k in range(seeds):
        log(f"{problem.source} on {chip.name}, chip {k + 1}/{seeds}: randomized SVD")
        chips, digital = Chips(chip, seed + k, t_seconds), Digital()
        if centre:
            digital.add("centre the columns", m * n, 16 * m * n)
        runs.append(score(run(chips, k, digital).vt))
        if chips0 is None:
            chips0, digital0 = chips, digital
    log("pricing the products with the event model")
    all_digital = Digital(dict(digital0.macs), dict(digital0.bytes))
    for p in chips0.made:  # the same algorithm, every product digital
        all_digital.add("products", p.calls.macs, 4 * (p.calls.rows * p.calls.cols
                                                        + p.calls.vectors * p.calls.cols))
    keys = ("explained_variance_rel_err", "subspace_angle_deg", "approx_rel_err")
    return {
        "experiment": "pca" if centre else "lowrank", "matrix": problem.source,
        "shape": [m, n], "rank": rank, "oversample": oversample, "power_passes": power,
        "seeds": seeds, "time_s": t_seconds,
        **{key: float(np.mean([r[key] for r in runs])) for key in keys},
        **{f"{key}_std": float(np.std([r[key] for r in runs])) for key in keys},
        "explained_variance_exact": float(ev_exact[-1]),
        "explained_by_rank_exact": ev_exact.tolist(),
        "explained_by_rank": np.mean([r["explained_by_rank"] for r in runs], axis=0).tolist(),
        "optimal_approx_rel_err": float(np.sqrt(max(0.0, 1.0 - ev_exact[-1]))),
        "digital_randomized": digital_run, "per_seed": runs,
        **_price(chips0, digital0, all_digital, read_mode,
                 "the same randomized SVD with every product digital, priced as above")}


def lstsq_study(problem: Problem, chip: Chip, *, sketch: str = "gaussian",
                sketch_rows: int | None = None, rounds: int = 2, steps: int = 30,
                inner: int = 12,
                seed: int = 0, t_seconds: float = 3600.0, read_mode: str | None = "one_phase",
                log: Log = lambda m: None) -> dict[str, Any]:
    """Least squares: sketch-and-solve on the arrays, then iterative refinement, against the
    digital solution (numpy's lstsq, float64).

    The preconditioner R comes from the arrays' sketch S A, whose noise (relative to ||A||)
    hides A's smallest directions: A R^-1 keeps a condition number of about the arrays' error
    times A's. Each further `rounds` sketches A R^-1 on the same arrays and corrects R, cutting
    it by that factor again, until the refinement's corrections are accurate."""
    a, b = problem.a, problem.b
    if b is None:
        raise DataError(f"{problem.source}: least squares needs a right-hand side b (a named "
                        "problem with a target, an .npz with 'b', or a .csv with --target last)")
    m, n = a.shape
    s_rows = sketch_rows or min(m, 4 * n)
    if not n <= s_rows <= m:
        raise DataError(f"--sketch-rows: expected {n} to {m} for a {m} x {n} matrix, "
                        f"got {s_rows}")
    x_star = np.linalg.lstsq(a, b, rcond=None)[0]
    norm_b = float(np.linalg.norm(b))
    digital_residual = float(np.linalg.norm(b - a @ x_star)) / norm_b
    chips, digital = Chips(chip, seed, t_seconds), Digital()
    log(f"{problem.source} on {chip.name}: sketching with a {s_rows} x {m} {sketch} embedding")
    s = embedding(sketch, s_rows, m, seed)
    sketch_op = chips("S^T", s.T)
    x0, r_pre = sketch_and_solve(sketch_op, a, b, digital)
    b_matrix = precondition(a, r_pre, digital)
    conditions = [float(np.linalg.cond(b_matrix))]
    for _ in range(1, rounds):  # the arrays' sketch of A R^-1 corrects R where noise hid A
        r_next = np.linalg.qr(sketch_op(b_matrix.T).T, mode="r")
        digital.add("QR of the sketch", s_rows * n * n - n ** 3 / 3, 16 * s_rows * n)
        b_matrix = precondition(b_matrix, r_next, digital)
        r_pre = r_next @ r_pre
        conditions.append(float(np.linalg.cond(b_matrix)))
    log("iterative refinement: residuals in float64, corrections on the arrays")
    result = refined_lstsq(chips("A R^-1", b_matrix), chips("(A R^-1)^T", b_matrix.T), a, b,
                           x0, r_pre, digital, steps=steps, inner=inner)
    all_digital = Digital()
    all_digital.add("Householder QR", m * n * n - n ** 3 / 3, 8 * m * n)
    all_digital.add("Q^T b and back substitution", m * n + n * n / 2, 8 * (m + n * n))
    log("pricing the products with the event model")
    return {
        "experiment": "lstsq", "matrix": problem.source, "shape": [m, n],
        # 12 digits: the ones beyond are the SVD's round-off (a condition number of 1e4 would
        # otherwise read 9999.99999999997)
        "condition_number": float(f"{np.linalg.cond(a):.12g}"), "sketch": sketch,
        "sketch_rows": s_rows, "time_s": t_seconds, "preconditioning_rounds": rounds,
        "preconditioned_condition_numbers": conditions,
        "rel_residual": min(result.rel_residuals),
        "digital_rel_residual": digital_residual,
        "residual_ratio": min(result.rel_residuals) / digital_residual,
        "sketch_and_solve_rel_residual": result.rel_residuals[0],
        "refinement_steps": len(result.rel_residuals) - 1,
        "rel_residual_by_step": result.rel_residuals,
        "inner_iterations": result.inner_iterations,
        "rel_error_x": float(np.linalg.norm(result.x - x_star) / np.linalg.norm(x_star)),
        "sketch_and_solve_rel_error_x": float(np.linalg.norm(x0 - x_star)
                                              / np.linalg.norm(x_star)),
        **_price(chips, digital, all_digital, read_mode,
                 "Householder QR least squares (m n^2 - n^3/3 multiply-adds), priced as above")}


