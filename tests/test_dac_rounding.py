"""Deterministic and stochastic rounding in the DAC, for the forward and the transposed read."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from chipsim.arch import load_chip, parse_chip
from chipsim.arch.loader import BUILTIN_DIR
from chipsim.errors import DescriptionError
from chipsim.functional.analog import AnalogOptions, tile_config
from chipsim.kernels.threads import limit_threads, thread_count
from chipsim.tile import Tile, TileConfig

_QUIET = dict(programming_noise=False, drift=False, read_noise=False, output_noise=False,
              adc_quantization=False, adc_saturation=False, gdc=False)


def _tile(rounding, rows=64, cols=16, bits=5, seed=1, **kwargs):
    config = TileConfig(rows=rows, cols=cols, dac_bits=bits, dac_rounding=rounding,
                        **{**_QUIET, **kwargs})
    w = np.random.default_rng(seed).normal(0, 0.3, (rows, cols)).astype(np.float32)
    return Tile(config, w, tile_id=4, seed=seed)


def _calibrated(rounding, **kwargs):
    tile = _tile(rounding, input_range="calibrated", **kwargs)
    tile.input_range = 1.0
    return tile


def test_stochastic_codes_are_unbiased_and_deterministic_ones_lose_a_small_constant():
    # 0.3 of a step on every row: nearest rounding gives 0 always; stochastic rounding gives 1
    # with probability 0.3, so the mean of n codes is 0.3 within sqrt(0.21 / n) (5 sigmas)
    n_inputs, step = 400, 1.0 / 15  # 5 bits: codes -15..15 over the range 1
    x = np.full((n_inputs, 64), 0.3 * step, np.float32)
    det, _ = _calibrated("deterministic").dac(x)
    assert np.all(det == 0)
    sto, _ = _calibrated("stochastic").dac(x)
    assert set(np.unique(sto)) == {0.0, 1.0}
    assert abs(sto.mean() - 0.3) < 5 * np.sqrt(0.21 / sto.size)


def test_stochastic_codes_have_the_mean_of_any_input():
    rs = np.random.default_rng(2)
    x = np.tile(rs.uniform(-1, 1, 64).astype(np.float32), (2000, 1))
    codes, _ = _calibrated("stochastic").dac(x)
    exact = x[0] * 15
    assert np.all(np.abs(codes - exact) < 1)  # one of the two neighbouring codes
    frac = exact - np.floor(exact)
    sigma = np.sqrt(frac * (1 - frac) / x.shape[0]) + 1e-6
    assert np.all(np.abs(codes.mean(axis=0) - exact) < 5 * sigma + 1e-6)


def test_forward_and_backward_are_unbiased_with_stochastic_rounding():
    # every input a small constant next to one full-scale element (the max |x| range): nearest
    # rounding drops the constants, stochastic rounding keeps them on average
    rows, cols, n = 64, 16, 3000
    x = np.full(rows, 0.02, np.float32)
    x[0] = 1.0
    d = np.full(cols, 0.02, np.float32)
    d[0] = 1.0
    errors = {}
    for rounding in ("deterministic", "stochastic"):
        tile = _tile(rounding, rows=rows, cols=cols)
        w = tile.weights
        fwd = tile.forward(np.tile(x, (n, 1))).astype(np.float64).mean(axis=0)
        bwd = tile.backward(np.tile(d, (n, 1))).astype(np.float64).mean(axis=0)
        errors[rounding] = (np.abs(fwd - x @ w).max(), np.abs(bwd - d @ w.T).max())
    # nearest rounding: the 63 small inputs (0.3 of a 5-bit step) all become 0
    det_fwd = np.abs(x[1:] @ _tile("deterministic", rows=rows, cols=cols).weights[1:]).max()
    assert errors["deterministic"][0] > 0.5 * det_fwd
    assert errors["stochastic"][0] < 0.1 * errors["deterministic"][0]
    assert errors["stochastic"][1] < 0.1 * errors["deterministic"][1]


def test_each_read_can_be_quantized_alone():
    # small constants beside one full-scale element: 5-bit nearest rounding drops them, so a
    # quantized read differs from an unquantized one by far more than the grid's round-off
    rows, cols = 64, 16
    x = np.full((3, rows), 0.02, np.float32)
    x[:, 0] = 1.0
    d = np.full((3, cols), 0.02, np.float32)
    d[:, 0] = 1.0
    both = _tile("deterministic")
    none = _tile("deterministic", dac_quantization=False)
    forward_only = _tile("deterministic", backward_dac_quantization=False)
    backward_only = _tile("deterministic", dac_quantization=False, backward_dac_quantization=True)
    assert np.abs(both.forward(x) - none.forward(x)).max() > 1e-2
    assert np.abs(both.backward(d) - none.backward(d)).max() > 1e-2
    np.testing.assert_array_equal(forward_only.forward(x), both.forward(x))
    np.testing.assert_allclose(forward_only.backward(d), none.backward(d), atol=1e-3)
    np.testing.assert_array_equal(backward_only.forward(x), none.forward(x))
    np.testing.assert_allclose(backward_only.backward(d), both.backward(d), atol=1e-3)
    # stochastic rounding of the transposed read alone: unbiased again, as with both reads
    sto = _tile("stochastic", dac_quantization=False, backward_dac_quantization=True)
    mean = sto.backward(np.tile(d[0], (3000, 1))).astype(np.float64).mean(axis=0)
    exact = d[0] @ sto.weights.T
    assert np.abs(mean - exact).max() < 0.1 * np.abs(both.backward(d)[0] - exact).max()


def _outputs(tile, x, d):
    return tile.forward(x), tile.backward(d), tile.dac(x)[0]


def test_stochastic_rounding_does_not_depend_on_batch_split_or_path():
    rs = np.random.default_rng(3)
    x = rs.uniform(-1, 1, (100, 64)).astype(np.float32)
    d = rs.normal(size=(100, 16)).astype(np.float32)
    tile = _tile("stochastic")
    y, z, codes = _outputs(tile, x, d)
    parts = [(0, 7), (7, 50), (50, 100)]  # a small batch goes through the fused kernel
    y2 = np.concatenate([tile.forward(x[a:b], first_index=a) for a, b in parts])
    z2 = np.concatenate([tile.backward(d[a:b], first_index=a) for a, b in parts])
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_array_equal(z, z2)
    order = rs.permutation(100)
    np.testing.assert_array_equal(tile.dac(x[order], indices=order)[0], codes[order])
    np.testing.assert_array_equal(tile.forward(x[order], indices=order), y[order])
    # another tile, or another seed, rounds with other draws
    assert not np.array_equal(_tile("stochastic", seed=2).dac(x)[0], codes)
    other = Tile(tile.config, tile.weights, tile_id=5, seed=tile.seed)
    assert not np.array_equal(other.dac(x)[0], codes)


def test_stochastic_rounding_does_not_depend_on_thread_count():
    rs = np.random.default_rng(4)
    x = rs.uniform(-1, 1, (600, 64)).astype(np.float32)
    d = rs.normal(size=(600, 16)).astype(np.float32)
    before, results = thread_count(), []
    try:
        for threads in (1, 2):
            limit_threads(threads)
            results.append(_outputs(_tile("stochastic"), x, d))
    finally:
        limit_threads(before)
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)


def test_deterministic_rounding_is_the_default_and_changes_nothing():
    rs = np.random.default_rng(5)
    x = rs.uniform(-1, 1, (40, 64)).astype(np.float32)
    d = rs.normal(size=(40, 16)).astype(np.float32)
    w = rs.normal(0, 0.3, (64, 16)).astype(np.float32)
    default = Tile(TileConfig(rows=64, cols=16), w, seed=3)
    explicit = Tile(TileConfig(rows=64, cols=16, dac_rounding="deterministic"), w, seed=3)
    for a, b in zip(_outputs(default, x, d), _outputs(explicit, x, d)):
        np.testing.assert_array_equal(a, b)
    # without DAC quantization there is nothing to round
    off = dict(dac_quantization=False)
    plain = Tile(TileConfig(rows=64, cols=16, **off), w, seed=3)
    sto = Tile(TileConfig(rows=64, cols=16, dac_rounding="stochastic", **off), w, seed=3)
    for a, b in zip(_outputs(plain, x, d), _outputs(sto, x, d)):
        np.testing.assert_array_equal(a, b)


def test_rounding_comes_from_the_description_and_the_options(tmp_path):
    chip = load_chip("hermes64")
    assert chip.cores.dac.rounding == "deterministic"
    assert TileConfig.from_chip(chip).dac_rounding == "deterministic"
    assert tile_config(chip, AnalogOptions(dac_rounding="stochastic"), 8, 8).dac_rounding == \
        "stochastic"
    data = yaml.safe_load((BUILTIN_DIR / "rpu_train.yaml").read_text())
    data["cores"]["dac"]["rounding"] = "stochastic"
    assert TileConfig.from_chip(parse_chip(yaml.safe_dump(data))).dac_rounding == "stochastic"
    data["cores"]["dac"]["rounding"] = "random"
    with pytest.raises(DescriptionError, match="cores.dac.rounding"):
        parse_chip(yaml.safe_dump(data))
    with pytest.raises(ValueError, match="dac_rounding"):
        TileConfig(dac_rounding="up")
