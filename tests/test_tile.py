"""The crossbar tile: ideal mode, converters, determinism, drift compensation, switches."""

import numpy as np
import pytest

from chipsim.arch import load_chip
from chipsim.device import pcm
from chipsim.errors import DataError, DescriptionError
from chipsim import tile as tile_module
from chipsim.kernels import tile as kernels
from chipsim.tile import Tile, TileConfig, TiledMatrix

ROWS, COLS = 64, 48
SWITCHES = ("programming_noise", "drift", "read_noise", "dac_quantization", "adc_quantization",
            "output_noise", "adc_saturation")


def _weights(rows=ROWS, cols=COLS, seed=0):
    return np.random.default_rng(seed).normal(0, 0.3, (rows, cols)).astype(np.float32)


def _inputs(batch, rows=ROWS, seed=1):
    return np.random.default_rng(seed).uniform(-1, 1, (batch, rows)).astype(np.float32)


def _rel_err(y, ref):
    return float(np.linalg.norm(y - ref) / np.linalg.norm(ref))


def test_ideal_tile_equals_matmul():
    w, x = _weights(), _inputs(32)
    tile = Tile(TileConfig.ideal(ROWS, COLS), w)
    tile.drift(86400.0)
    ref = x.astype(np.float64) @ w.astype(np.float64)
    np.testing.assert_allclose(tile.forward(x), ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())
    np.testing.assert_allclose(tile.forward(x[3]), ref[3], rtol=1e-5, atol=1e-5 * np.abs(ref).max())


def test_dac_codes_are_the_known_integers():
    x = np.array([[1.0, -0.5, 0.25, 0.004, -1.0, 0.0]], dtype=np.float32)
    codes, ranges = np.empty_like(x), np.empty(1, dtype=np.float32)
    kernels.dac(x, 1.0, True, 127.0, True, codes, ranges, 0, 1)
    assert codes[0].tolist() == [127, -64, 32, 1, -127, 0]  # -63.5 and 31.75 round to even/nearest
    assert ranges[0] == 1.0
    kernels.dac(2 * x, 0.5, False, 127.0, True, codes, ranges, 0, 1)  # calibrated range 0.5: clips
    assert codes[0].tolist() == [127, -127, 127, 2, -127, 0]
    assert ranges[0] == 0.5


def test_adc_outputs_are_whole_steps_and_saturate():
    cfg = TileConfig.ideal(4, 2, adc_quantization=True, adc_saturation=True, out_bound=2.0)
    w = np.array([[1.0, 0.1]] * 4, dtype=np.float32)  # column scales 1.0 and 0.1
    tile = Tile(cfg, w)
    y = tile.forward(np.array([1.0, 1.0, 1.0, 1.0], dtype=np.float32))
    assert y[0] == pytest.approx(2.0)  # 4 full-scale products saturate at out_bound = 2
    assert y[1] == pytest.approx(0.2)  # the same in column 2, scaled back by its 0.1
    step = 2.0 / 127
    y = tile.forward(np.array([1.0, 0.3, 0.0, 0.0], dtype=np.float32))
    assert y[0] / step == pytest.approx(np.rint(1.3 / step), abs=1e-4)  # whole ADC codes


def test_saturation_off_lets_large_outputs_through():
    cfg = TileConfig.ideal(4, 1, adc_saturation=False, out_bound=2.0)
    y = Tile(cfg, np.ones((4, 1))).forward(np.ones(4))
    assert y[0] == pytest.approx(4.0)


@pytest.fixture(scope="module")
def noisy_tile():
    tile = Tile(TileConfig(rows=ROWS, cols=COLS), _weights(), tile_id=5, seed=42)
    tile.drift(3600.0)
    return tile


def test_noisy_tile_is_close_but_not_equal(noisy_tile):
    x = _inputs(64)
    err = _rel_err(noisy_tile.forward(x), x @ _weights())
    assert 0.01 < err < 0.3


def test_batch_split_gives_identical_bits(noisy_tile):
    x = _inputs(64)
    whole = noisy_tile.forward(x, first_index=100)
    singles = np.stack([noisy_tile.forward(x[k], first_index=100 + k) for k in range(64)])
    halves = np.vstack([noisy_tile.forward(x[:20], first_index=100),
                        noisy_tile.forward(x[20:], first_index=120)])
    assert np.array_equal(whole, singles)
    assert np.array_equal(whole, halves)


def test_same_seed_same_output_other_seed_other_output():
    x, w = _inputs(16), _weights()
    outs = []
    for seed in (3, 3, 4):
        tile = Tile(TileConfig(rows=ROWS, cols=COLS), w, tile_id=1, seed=seed)
        tile.drift(86400.0)
        outs.append(tile.forward(x))
    assert np.array_equal(outs[0], outs[1])
    assert not np.array_equal(outs[0], outs[2])


def test_explicit_input_numbers_match_first_index(noisy_tile):
    x = _inputs(40)
    numbers = np.array([5, 3] + list(range(100, 138)))
    by_number = noisy_tile.forward(x, indices=numbers)
    assert np.array_equal(by_number[2:], noisy_tile.forward(x[2:], first_index=100))
    assert np.array_equal(by_number[:2], noisy_tile.forward(x[:2], indices=numbers[:2]))
    assert np.array_equal(by_number[0], noisy_tile.forward(x[0], first_index=5))


def test_input_number_keys_the_output_noise(noisy_tile):
    x = _inputs(1)[0]
    assert not np.array_equal(noisy_tile.forward(x, 0), noisy_tile.forward(x, 1))
    assert np.array_equal(noisy_tile.forward(x, 7), noisy_tile.forward(x, 7))


def test_drift_is_repeatable():
    tile = Tile(TileConfig(rows=ROWS, cols=COLS), _weights(), seed=9)
    x = _inputs(8)
    tile.drift(3600.0)
    first = tile.forward(x)
    tile.drift(86400.0)
    tile.drift(3600.0)
    assert np.array_equal(first, tile.forward(x))


def test_a_released_tile_reads_the_same_bits_and_refuses_to_drift():
    """What the event model's tiles do: drop the device state after programming, keep reads."""
    kept = Tile(TileConfig(rows=ROWS, cols=COLS), _weights(), tile_id=3, seed=9)
    released = Tile(TileConfig(rows=ROWS, cols=COLS), _weights(), tile_id=3, seed=9)
    released.release_device_state()
    x = _inputs(16)
    assert np.array_equal(kept.forward(x), released.forward(x))
    for a, b in zip(kept.row_conductances(), released.row_conductances()):
        assert np.array_equal(a, b)
    with pytest.raises(DataError, match="tile 3: its device state was released"):
        released.drift(3600.0)


def test_gdc_restores_output_scale_after_drift():
    w, x = _weights(256, 64), _inputs(128, 256)
    ratios = {}
    for gdc in (True, False):
        cfg = TileConfig(rows=256, cols=64, gdc=gdc, output_noise=False)
        tile = Tile(cfg, w, seed=2)
        at_zero = np.abs(tile.forward(x)).mean()
        tile.drift(86400.0)
        ratios[gdc] = np.abs(tile.forward(x)).mean() / at_zero
    assert ratios[True] == pytest.approx(1.0, abs=0.05)
    assert ratios[False] < 0.8


@pytest.mark.parametrize("switch", SWITCHES)
def test_each_nonideality_alone_has_an_effect(switch):
    w, x = _weights(), 1.5 * _inputs(16)
    extra = {"out_bound": 1.0} if switch == "adc_saturation" else {}
    ideal = TileConfig.ideal(ROWS, COLS, **extra)
    y_ideal = Tile(ideal, w, seed=1)
    y_ideal.drift(86400.0)
    one_on = Tile(ideal.replace(**{switch: True}), w, seed=1)
    one_on.drift(86400.0)
    assert _rel_err(one_on.forward(x), y_ideal.forward(x)) > 1e-3


def _full(**changes):
    """Every non-ideality on except the GDC (so outputs stay on the ADC's grid)."""
    return TileConfig(rows=ROWS, cols=COLS, gdc=False).replace(**changes)


def _conductance_error(tile):
    target = tile.weights / tile.column_scale * tile.config.g_cell_max
    return _rel_err(tile.conductance_difference, target)


@pytest.mark.parametrize("on", [True, False])
def test_output_noise_switch(on):
    tile = Tile(_full(output_noise=on), _weights(), seed=1)
    x = _inputs(4)
    assert np.array_equal(tile.forward(x, 0), tile.forward(x, 1)) is not on


@pytest.mark.parametrize("on", [True, False])
def test_adc_quantization_switch(on):
    tile = Tile(_full(adc_quantization=on), _weights(), seed=1)
    x = _inputs(16)
    ranges = np.abs(x).max(axis=1, keepdims=True)
    codes = tile.forward(x) / (ranges * tile.column_scale) / (12.0 / 127)
    on_grid = np.abs(codes - np.rint(codes)) < 1e-3
    assert on_grid.all() if on else on_grid.mean() < 0.1


@pytest.mark.parametrize("on", [True, False])
def test_dac_quantization_switch(on):
    tile = Tile(_full(dac_quantization=on), _weights(), seed=1)
    x = np.rint(_inputs(16) * 127) / 127
    x[:, 0] = 1.0  # fixes each vector's range at 1
    nudged = x.copy()
    nudged[:, 1:] += 0.2 / 127 * (np.abs(x[:, 1:]) < 0.9)  # under half a step; max stays
    assert np.array_equal(tile.forward(x), tile.forward(nudged)) is on


@pytest.mark.parametrize("on", [True, False])
def test_adc_saturation_switch(on):
    tile = Tile(_full(adc_saturation=on, out_bound=1.0), _weights(), seed=1)
    x = np.sign(_inputs(32))  # full-scale inputs: column sums well beyond 1
    y = tile.forward(x) / tile.column_scale
    assert bool(np.abs(y).max() <= 1.0 + 1e-5) == on


@pytest.mark.parametrize("on", [True, False])
def test_drift_switch(on):
    tile = Tile(_full(drift=on, read_noise=False), _weights(), seed=1)
    before = np.abs(tile.conductance_difference).mean()
    tile.drift(86400.0)
    ratio = np.abs(tile.conductance_difference).mean() / before
    assert ratio < 0.9 if on else ratio == 1.0


@pytest.mark.parametrize("on", [True, False])
def test_read_noise_switch(on):
    tile = Tile(_full(read_noise=on, drift=False), _weights(), seed=1)
    first = tile.conductance_difference.copy()
    tile.drift(3600.0)  # without drift, only read noise can change the conductances
    assert np.array_equal(first, tile.conductance_difference) is not on


def test_programming_noise_switch():
    errors = [_conductance_error(Tile(_full(programming_noise=on, read_noise=False), _weights(),
                                      seed=1)) for on in (True, False)]
    assert errors[0] > 0.02 and errors[1] == 0.0


def test_output_noise_has_its_configured_size():
    w = np.full((ROWS, COLS), 0.5, dtype=np.float32)  # column scale 0.5
    cfg = TileConfig.ideal(ROWS, COLS, output_noise=True, output_noise_std=0.06)
    x = np.zeros((400, ROWS), dtype=np.float32)
    x[:, 0] = 2.0  # input range (max |x|) 2
    err = Tile(cfg, w).forward(x) - x @ w
    assert err.std() == pytest.approx(0.06 * 2.0 * 0.5, rel=0.03)


def test_two_devices_per_polarity_halve_relative_programming_error():
    w, x = _weights(), _inputs(64)
    errs = []
    for n in (1, 2):
        cfg = TileConfig.ideal(ROWS, COLS, programming_noise=True, devices_per_polarity=n)
        errs.append(_rel_err(Tile(cfg, w, seed=5).forward(x), x @ w))
    assert errs[1] < 0.85 * errs[0]


def _even_split(g_cell, z_prog, z_verify, p, stuck=None):
    """The rule before read-out correction: every device programmed to g_cell / n."""
    targets = pcm.split_targets(g_cell, z_prog.shape[0])
    return targets, pcm.program(targets, z_prog, p)


def _weight_error(tile, w):
    """Relative error of the weights the array holds now (all devices summed)."""
    held = tile.conductance_difference / tile.config.g_cell_max * tile.column_scale[None, :]
    return float(np.linalg.norm(held - w) / np.linalg.norm(w))


@pytest.mark.parametrize("read_noise, bound", [(True, 0.96), (False, 0.8)])
def test_read_out_correction_beats_even_split(monkeypatch, read_noise, bound):
    # seeds 0..9 give ratios 0.945 +- 0.002 with noisy verify reads, about 0.73 with exact ones
    w = np.random.default_rng(0).uniform(-1, 1, (256, 256)).astype(np.float32)
    cfg = TileConfig(rows=256, cols=256, devices_per_polarity=2, gdc=False, drift=False,
                     dac_quantization=False, read_noise=read_noise)
    corrected = _weight_error(Tile(cfg, w, seed=3), w)
    monkeypatch.setattr(pcm, "program_in_turn", _even_split)
    even = _weight_error(Tile(cfg, w, seed=3), w)
    assert corrected < bound * even


def test_one_device_per_polarity_programs_as_before(monkeypatch):
    w, x = _weights(), _inputs(8)
    cfg = TileConfig(rows=ROWS, cols=COLS)
    now = Tile(cfg, w, tile_id=2, seed=7)
    monkeypatch.setattr(pcm, "program_in_turn", _even_split)
    before = Tile(cfg, w, tile_id=2, seed=7)
    assert np.array_equal(now.conductance_difference, before.conductance_difference)
    now.drift(3600.0), before.drift(3600.0)
    assert np.array_equal(now.forward(x), before.forward(x))


def test_two_devices_per_polarity_are_deterministic_and_exact_without_noise():
    w, x = _weights(), _inputs(8)
    cfg = TileConfig(rows=ROWS, cols=COLS, devices_per_polarity=2)
    a, b, other = Tile(cfg, w, seed=4), Tile(cfg, w, seed=4), Tile(cfg, w, seed=5)
    assert np.array_equal(a.forward(x), b.forward(x))
    assert not np.array_equal(a.conductance_difference, other.conductance_difference)
    exact = Tile(TileConfig.ideal(ROWS, COLS, devices_per_polarity=3), w)
    g_plus, g_minus = pcm.differential_targets(w / exact.column_scale, exact.config.g_cell_max)
    np.testing.assert_allclose(exact.conductance_difference, g_plus - g_minus, atol=1e-12)


def test_calibrated_input_range_clips():
    cfg = TileConfig.ideal(ROWS, COLS, input_range="calibrated")
    tile, w = Tile(cfg, _weights()), _weights()
    x = _inputs(4)
    tile.input_range = 0.5
    np.testing.assert_allclose(tile.forward(x), np.clip(x, -0.5, 0.5) @ w, rtol=1e-4, atol=1e-4)


def test_column_scale_and_offset_are_the_digital_affine_step():
    w, x = _weights(), _inputs(4)
    tile = Tile(TileConfig.ideal(ROWS, COLS), w)
    tile.column_offset = np.arange(COLS, dtype=np.float32)
    np.testing.assert_allclose(tile.forward(x), x @ w + np.arange(COLS), rtol=1e-4, atol=1e-4)
    tile.column_scale = tile.column_scale * 2  # weights now fill half the conductance range
    tile.program()
    np.testing.assert_allclose(tile.forward(x), x @ w + np.arange(COLS), rtol=1e-4, atol=1e-4)


def test_tiled_matrix_ideal_equals_unsplit_matmul():
    w, x = _weights(300, 200, seed=3), _inputs(10, 300)
    matrix = TiledMatrix(TileConfig.ideal(128, 128), w, first_tile_id=10)
    assert len(matrix.all_tiles()) == 6
    assert sorted(t.tile_id for t in matrix.all_tiles()) == list(range(10, 16))
    ref = x.astype(np.float64) @ w
    np.testing.assert_allclose(matrix.forward(x), ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


def test_tiled_matrix_batch_split_gives_identical_bits():
    w, x = _weights(200, 100, seed=3), _inputs(8, 200)
    matrix = TiledMatrix(TileConfig(rows=128, cols=64), w, seed=1)
    matrix.drift(3600.0)
    singles = np.stack([matrix.forward(x[k], first_index=k) for k in range(8)])
    assert np.array_equal(matrix.forward(x), singles)


def test_bad_inputs_raise_data_errors():
    tile = Tile(TileConfig(rows=ROWS, cols=COLS), _weights(), tile_id=4)
    with pytest.raises(DataError, match="tile 4.*shape"):
        tile.forward(np.ones((2, ROWS + 1)))
    x = _inputs(3)
    x[2, 5] = np.nan
    with pytest.raises(DataError, match="input 12 contains NaN"):
        tile.forward(x, first_index=10)
    with pytest.raises(DataError, match="drift time"):
        tile.drift(-1.0)
    with pytest.raises(DataError, match="weights of shape"):
        Tile(TileConfig(rows=ROWS, cols=COLS), np.ones((3, 3)))


def test_from_chip_reads_the_description():
    chip = load_chip("hermes64")
    cfg = TileConfig.from_chip(chip)
    assert (cfg.rows, cfg.cols) == (chip.cores.rows, chip.cores.cols)
    assert cfg.dac_bits == chip.cores.dac.bits and cfg.adc_bits == chip.cores.adc.bits
    assert cfg.device.g_max == chip.cores.device.g_max_us
    assert cfg.devices_per_polarity == chip.cores.unit_cell.devices_per_polarity
    assert cfg.output_noise_std == chip.cores.adc.noise_std
    assert TileConfig.from_chip(chip, rows=ROWS).rows == ROWS


def test_from_chip_refuses_what_the_tile_cannot_model():
    chip = load_chip("hermes64")
    cells = chip.cores.unit_cell.model_copy(update={"polarity": "single"})
    odd = chip.model_copy(update={"cores": chip.cores.model_copy(update={"unit_cell": cells})})
    with pytest.raises(DescriptionError, match="cores.unit_cell.polarity"):
        TileConfig.from_chip(odd)


def test_one_mvm_is_one_conversion_whatever_the_read_mode():
    """The ADC integrates over every phase: one noise draw per output, so the output noise has
    the description's size (not sqrt(phases) times it), and the ADC grid is one grid."""
    chip = load_chip("hermes64")
    w = np.full((ROWS, COLS), 0.5, dtype=np.float32)
    cfg = TileConfig.from_chip(chip, rows=ROWS, cols=COLS, programming_noise=False, drift=False,
                               read_noise=False, dac_quantization=False, adc_quantization=False,
                               adc_saturation=False, gdc=False, input_range="max_abs")
    x = np.zeros((400, ROWS), dtype=np.float32)
    x[:, 0] = 1.0
    err = Tile(cfg, w).forward(x) - x @ w
    assert err.std() == pytest.approx(chip.cores.adc.noise_std * 0.5, rel=0.03)


def test_chip_tile_is_deterministic_and_close():
    chip = load_chip("hermes64")
    cfg = TileConfig.from_chip(chip, input_range="max_abs", rows=ROWS, cols=COLS)
    w, x = _weights(), _inputs(16)
    tile = Tile(cfg, w, seed=3)
    tile.drift(3600.0)
    y = tile.forward(x)
    assert np.array_equal(y, np.stack([tile.forward(x[k], k) for k in range(16)]))
    assert _rel_err(y, x @ w) < 0.2


def test_row_conductances_are_what_the_array_reads():
    tile = Tile(TileConfig(rows=ROWS, cols=COLS), _weights(), seed=2)
    g_pos, g_neg = tile.row_conductances()
    assert g_pos.shape == g_neg.shape == (ROWS,)
    np.testing.assert_allclose(g_pos - g_neg, tile.conductance_difference.sum(axis=1))
    tile.drift(86400.0)  # drift lowers them; read noise at the new time changes them too
    later = tile.row_conductances()
    assert later[0].sum() < g_pos.sum() and later[1].sum() < g_neg.sum()
    np.testing.assert_allclose(later[0] - later[1], tile.conductance_difference.sum(axis=1))


def test_config_refuses_a_read_out_grid_too_coarse_for_exact_sums():
    with pytest.raises(ValueError, match="conductance levels"):
        TileConfig(rows=4096, dac_bits=10)


# ---------------------------------------------------------------- large batches, in chunks
@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(tile_module, "_CHUNK_ROWS", 48)  # a batch of 200 spans several chunks


def test_large_batches_in_chunks_give_the_bits_of_single_vectors(small_chunks):
    rs = np.random.default_rng(5)
    w = rs.normal(0, 0.05, (200, 150)).astype(np.float32)
    x = rs.uniform(-1, 1, (200, 200)).astype(np.float32)
    matrix = TiledMatrix(TileConfig(rows=128, cols=64), w, seed=1)  # 2 x 3 tiles
    matrix.drift(3600.0)
    whole = matrix.forward(x, first_index=7)
    singles = np.stack([matrix.forward(x[k], first_index=7 + k) for k in range(200)])
    assert np.array_equal(whole, singles)
    t = matrix.tiles[0][0]
    x0 = np.ascontiguousarray(x[:, :128])
    numbers = rs.permutation(1000)[:200]
    by_tile = t.forward(x0, indices=numbers)
    assert np.array_equal(by_tile, t.convert(*t.dac(x0, indices=numbers), indices=numbers))
    assert np.array_equal(by_tile[150:], t.forward(x0[150:], indices=numbers[150:]))


def test_a_nan_late_in_a_large_batch_is_named(small_chunks):
    matrix = TiledMatrix(TileConfig(rows=128, cols=64), np.ones((200, 100), np.float32))
    x = np.zeros((200, 200), np.float32)
    x[170, 3] = np.inf
    with pytest.raises(DataError, match="input 180 contains NaN"):
        matrix.forward(x, first_index=10)


@pytest.mark.parametrize("rows", [128, 75, 3])  # whole groups of four crossbar rows, and not
def test_small_batch_kernel_gives_the_bits_of_the_gemm(rows):
    """The per-vector kernel sums four crossbar rows at a time; the batched path runs BLAS. The
    sums are exact integers, so both give the same bits, whatever the row count."""
    rs = np.random.default_rng(9)
    matrix = TiledMatrix(TileConfig(rows=128, cols=64),
                         rs.normal(0, 0.05, (128 + rows, 70)).astype(np.float32), seed=2)
    matrix.drift(60.0)
    x = rs.uniform(-1, 1, (40, 128 + rows)).astype(np.float32)
    batched = matrix.forward(x, first_index=3)  # from 32 on: BLAS
    assert np.array_equal(batched, np.vstack([matrix.forward(x[k:k + 1], first_index=3 + k)
                                              for k in range(40)]))


def test_ideal_tiled_matrix_small_batch_matches_its_large_batch():
    """Without DAC quantization a small batch takes the batched float path too."""
    w, x = _weights(100, 60), _inputs(40, 100)
    matrix = TiledMatrix(TileConfig.ideal(rows=64, cols=32), w)
    assert np.allclose(matrix.forward(x[:5]), matrix.forward(x)[:5], rtol=1e-5, atol=1e-6)
