"""Randomized linear algebra on the arrays: sketches, algorithms against numpy in ideal mode,
the noisy runs' accuracy and determinism, and the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from chipsim.arch import load_chip
from chipsim.cli import main
from chipsim.functional.analog import AnalogOptions
from chipsim.linalg import (ArrayProduct, DigitalProduct, embedding, load_problem, lstsq_study,
                            randomized_svd, refined_lstsq, svd_study, synthetic)
from chipsim.linalg.algorithms import SKETCHES, Digital, precondition, sketch_and_solve


@pytest.fixture(scope="module")
def chip():
    return load_chip("hermes64")


@pytest.mark.parametrize("kind", SKETCHES)
def test_sketches_are_unbiased_embeddings(kind):
    """E[S^T S] = I: the mean over 400 draws is within a few standard errors of I."""
    rows, cols, draws = 16, 6, 400
    mean = sum(embedding(kind, rows, cols, seed).T @ embedding(kind, rows, cols, seed)
               for seed in range(draws)) / draws
    # each entry of S^T S has variance of order 1/rows; its mean over draws 1/(rows draws)
    assert np.abs(mean - np.eye(cols)).max() < 5 / np.sqrt(rows * draws)


def test_an_ideal_array_computes_the_product_to_round_off(chip):
    m = np.random.default_rng(0).standard_normal((300, 70))  # two row blocks
    x = np.random.default_rng(1).standard_normal((5, 300))
    array = ArrayProduct("M", m, chip, options=AnalogOptions.ideal())
    assert array.tiles == 2
    np.testing.assert_allclose(array(x), x @ m, rtol=1e-5, atol=1e-4)
    assert array.calls.batches == [5] and array.calls.macs == 5 * 300 * 70


def test_randomized_svd_in_ideal_mode_is_numpy_svd(chip):
    """A rank-8 matrix: the randomized SVD recovers numpy's leading singular triplets, on ideal
    arrays to float32 round-off and with digital products exactly."""
    rng = np.random.default_rng(2)
    a = rng.standard_normal((200, 8)) @ rng.standard_normal((8, 40))
    _, s, vt = np.linalg.svd(a)
    omega = rng.standard_normal((40, 12))
    for make, tol in ((lambda n, mat: DigitalProduct(n, mat), 1e-10),
                      (lambda n, mat: ArrayProduct(n, mat, chip, options=AnalogOptions.ideal()),
                       1e-4)):
        got = randomized_svd(a, make("Omega", omega), make("A", a), make("A^T", a.T), 8, 4, 1,
                             Digital())
        np.testing.assert_allclose(got.s, s[:8], rtol=tol)
        np.testing.assert_allclose(np.abs(got.vt @ vt[:8].T), np.eye(8), atol=100 * tol)


def test_refined_least_squares_in_ideal_mode_is_numpy_lstsq(chip):
    problem = synthetic(256, 16, 1e3, seed=3)
    a, b = problem.a, problem.b
    ideal = AnalogOptions.ideal()
    digital = Digital()
    x0, r = sketch_and_solve(ArrayProduct("S^T", embedding("gaussian", 64, 256, 0).T, chip,
                                          options=ideal), a, b, digital)
    bm = precondition(a, r, digital)
    result = refined_lstsq(ArrayProduct("B", bm, chip, options=ideal),
                           ArrayProduct("B^T", bm.T, chip, options=ideal), a, b, x0, r, digital,
                           steps=5)
    x_star = np.linalg.lstsq(a, b, rcond=None)[0]
    np.testing.assert_allclose(result.x, x_star, rtol=1e-5, atol=1e-6 * np.abs(x_star).max())
    assert digital.total_macs > 0 and "form A R^-1" in digital.macs


def test_refinement_reaches_the_digital_residual_on_an_ill_conditioned_problem(chip):
    """cond 1e4 on hermes64 at 1 h: sketch-and-solve alone stops at the arrays' noise floor,
    refinement reaches the digital relative residual within 1 %."""
    result = lstsq_study(load_problem("synthetic", cond=1e4), chip)
    assert result["condition_number"] >= 1e4
    assert result["sketch_and_solve_rel_residual"] > 10 * result["digital_rel_residual"]
    assert result["residual_ratio"] < 1.01
    assert 1 <= result["refinement_steps"] <= 30
    assert result["analog_energy_pj"] > 0 and result["all_digital_energy_pj"] > 0


def test_runs_are_deterministic_for_a_seed(chip):
    problem = load_problem("digits")
    first = svd_study(problem, chip, rank=5, centre=True, seeds=2)
    again = svd_study(problem, chip, rank=5, centre=True, seeds=2)
    assert json.dumps(first, sort_keys=True) == json.dumps(again, sort_keys=True)
    other = svd_study(problem, chip, rank=5, centre=True, seeds=2, seed=7)
    assert other["per_seed"] != first["per_seed"]


def test_pca_of_digits_keeps_the_explained_variance_and_prices_the_arrays(chip):
    result = svd_study(load_problem("digits"), chip, rank=10, centre=True, seeds=2)
    assert abs(result["explained_variance_rel_err"]) < 0.02
    assert result["subspace_angle_deg"] < 10
    names = {p["name"] for p in result["products"]}
    assert names == {"Omega", "A", "A^T"}
    assert all(p["energy_per_vector_pj"] > 0 and p["time_ns"] > 0 for p in result["products"])


def test_the_command_prints_one_json_document(tmp_path, capsys):
    assert main(["linalg", "pca", "digits", "--rank", "5", "--seeds", "1", "--json",
                 "--out", str(tmp_path)]) == 0
    d = json.loads(capsys.readouterr().out)
    for key in ("subspace_angle_deg", "explained_variance_rel_err", "analog_energy_pj",
                "digital_energy_pj", "all_digital_energy_pj"):
        assert isinstance(d[key], float), key
    assert (tmp_path / "index.html").is_file() and (tmp_path / "rank.png").is_file()


@pytest.mark.parametrize("args, words", [
    (["lstsq", "digits"], "needs a right-hand side"),
    (["pca", "nothing.npy"], "no such file"),
    (["pca", "digits", "--rank", "60"], "--rank"),
    (["lstsq", "synthetic", "--cond", "0.5"], "--cond"),
    (["pca", "digits", "--read-mode", "nine_phase"], "nine_phase"),
])
def test_mistakes_are_one_line_with_exit_2(tmp_path, capsys, args, words):
    assert main(["linalg", *args, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("chipsim: error:") and words in err, err


def test_matrix_files_load_with_their_right_hand_side(tmp_path):
    a = np.arange(12.0).reshape(4, 3)
    np.savez(tmp_path / "p.npz", A=a, b=np.ones(4))
    problem = load_problem(str(tmp_path / "p.npz"))
    assert problem.a.shape == (4, 3) and problem.b.shape == (4,)
    np.savetxt(tmp_path / "p.csv", np.c_[a, np.ones(4)], delimiter=",")
    problem = load_problem(str(tmp_path / "p.csv"), target="last")
    np.testing.assert_array_equal(problem.a, a)
