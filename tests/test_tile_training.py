"""The training cycles of a tile: transposed read, pulsed update, training description."""

from __future__ import annotations

import numpy as np
import pytest

from chipsim.arch import load_chip
from chipsim.device import pulsed
from chipsim.device.pulsed import PulsedParams
from chipsim.errors import DataError
from chipsim.kernels.threads import limit_threads, thread_count
from chipsim.tile import Tile, TileConfig
from chipsim.tile_update import UpdateConfig, pulse_scales


def _tile(rows=64, cols=32, seed=1, ideal=True, **device):
    training = UpdateConfig(device=PulsedParams(**device))
    config = (TileConfig.ideal(rows, cols, training=training) if ideal else
              TileConfig(rows=rows, cols=cols, dac_bits=7, adc_bits=9, training=training))
    w = np.random.default_rng(seed).uniform(-0.2, 0.2, (rows, cols)).astype(np.float32)
    return Tile(config, w, tile_id=2, seed=seed)


def test_backward_equals_d_times_w_transposed_in_ideal_mode():
    tile = _tile()
    d = np.random.default_rng(3).normal(size=(5, 32)).astype(np.float32)
    w = tile.pulsed.weights()
    np.testing.assert_allclose(tile.backward(d), d @ w.T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tile.backward(d[0]), d[0] @ w.T, rtol=1e-5, atol=1e-5)


def test_backward_of_a_pcm_tile_is_the_transposed_read_too():
    rs = np.random.default_rng(4)
    w = rs.normal(0, 0.1, (48, 40)).astype(np.float32)
    tile = Tile(TileConfig.ideal(48, 40), w)
    d = rs.normal(size=(3, 40)).astype(np.float32)
    np.testing.assert_allclose(tile.backward(d), d @ w.T, rtol=1e-4, atol=1e-5)


def test_bound_management_reads_saturating_vectors_again():
    # inputs all of one sign on weights all of one sign: the full-scale sum (40 x 0.5 = 20)
    # saturates an ADC of bound 12; halving the inputs once brings it back in range
    config = TileConfig(rows=16, cols=40, output_noise=False,
                        training=UpdateConfig(device=PulsedParams(bound_dtod=0.0)))
    tile = Tile(config, np.full((16, 40), 0.5, np.float32))
    d = np.ones((2, 40), np.float32)
    np.testing.assert_allclose(tile.backward(d), d @ tile.pulsed.weights().T, rtol=0.02)
    clipped = Tile(config.replace(bound_management=False), np.full((16, 40), 0.5, np.float32))
    assert np.abs(clipped.backward(d)).max() <= 12.0 + 1e-4


def test_constant_step_expected_update_is_minus_lr_times_outer():
    # per update, device (i, j) takes n ~ Binomial(BL, p_i q_j) pulses of dw_min (1 + s z):
    # mean lr x_i d_j, variance dw_min^2 (BL pq (1 - pq) + BL pq s^2); over N updates the
    # sum's deviation from N lr x_i d_j is within 5 of its sigmas for every device
    lr, n_updates, s = 0.002, 300, 0.3
    tile = _tile(rows=32, cols=16, kind="constant_step", dtod=0.0, ctoc=s, w_max=5.0, w_min=-5.0)
    rs = np.random.default_rng(5)
    x = rs.uniform(-1, 1, 32).astype(np.float32)
    d = rs.uniform(-1, 1, 16).astype(np.float32)
    w0 = tile.pulsed.weights()
    tile.update(np.tile(x, (n_updates, 1)), np.tile(d, (n_updates, 1)), lr)
    change = tile.pulsed.weights().astype(np.float64) - w0
    config = tile.config.training
    scales = pulse_scales(np.abs(x).max(), np.abs(d).max(), lr, config)
    pq = np.outer(np.abs(x) * scales.row_scale, np.abs(d) * scales.col_scale)
    bl, dw = config.bl, config.device.dw_min
    sigma = dw * np.sqrt(n_updates * (bl * pq * (1 - pq) + bl * pq * s**2))
    expected = -n_updates * lr * np.outer(x, d)
    assert (np.abs(change - expected) < 5 * sigma).all()
    # and the whole matrix agrees closely on average
    assert np.corrcoef(change.ravel(), expected.ravel())[0, 1] > 0.98


def test_update_falls_short_of_lr_times_outer_once_a_probability_reaches_one():
    # C = sqrt(lr / (BL dw_min)) > 1 (lr 0.05, BL 31, dw_min 0.001: C^2 = 1.61): where
    # C^2 |x_i d_j| > 1 both trains are on in every slot, so device (i, j) takes BL pulses, a
    # fraction BL dw_min / lr = 0.62 of lr x_i d_j; small products are not clipped
    lr, n_updates, s = 0.05, 200, 0.3
    tile = _tile(rows=8, cols=8, kind="constant_step", dtod=0.0, ctoc=s, w_max=20.0, w_min=-20.0)
    x = np.full(8, 0.1, np.float32)
    d = np.full(8, 0.1, np.float32)
    x[0] = d[0] = 1.0
    w0 = tile.pulsed.weights()
    tile.update(np.tile(x, (n_updates, 1)), np.tile(d, (n_updates, 1)), lr)
    change = tile.pulsed.weights().astype(np.float64) - w0
    config = tile.config.training
    bl, dw = config.bl, config.device.dw_min
    assert lr > bl * dw
    clipped = -n_updates * bl * dw
    assert abs(change[0, 0] - clipped) < 5 * dw * s * np.sqrt(n_updates * bl)
    assert change[0, 0] > 0.7 * -n_updates * lr  # well short of lr x d
    pq = lr / (bl * dw) * 0.01  # element (1, 1): p q = C^2 x d, far below 1
    sigma = dw * np.sqrt(n_updates * bl * pq * (1 - pq + s**2))
    assert abs(change[1, 1] + n_updates * lr * 0.01) < 5 * sigma


def test_update_is_bit_identical_at_one_and_two_threads():
    before = thread_count()
    results = []
    try:
        for threads in (1, 2):
            limit_threads(threads)
            tile = _tile(rows=600, cols=24, seed=7)  # 600 rows: the rows split over 2 threads
            rs = np.random.default_rng(8)
            for _ in range(3):
                tile.update(rs.uniform(-1, 1, 600), rs.normal(0, 0.3, 24), 0.01)
            results.append(tile.pulsed.weights())
    finally:
        limit_threads(before)
    assert tile.pulsed.pulses > 0
    np.testing.assert_array_equal(results[0], results[1])


def test_forward_reads_the_updated_weights():
    tile = _tile(rows=32, cols=16)
    rs = np.random.default_rng(9)
    tile.update(rs.uniform(-1, 1, 32), rs.normal(0, 0.3, 16), 0.05)
    x = rs.normal(size=(4, 32)).astype(np.float32)
    np.testing.assert_allclose(tile.forward(x), x @ tile.pulsed.weights(), rtol=1e-4, atol=1e-5)


def test_zero_shifting_a_tile_reads_weights_near_zero():
    tile = _tile(rows=8, cols=8, up_down=0.2, ctoc=0.0)
    reference = tile.zero_shift(3000, averaged=100)
    assert np.abs(reference).max() > 0.05  # symmetry points away from zero
    assert np.abs(tile.pulsed.weights()).max() < 0.01
    assert np.abs(tile.forward(np.ones(8, np.float32))).max() < 0.08


def test_pcm_tiles_refuse_updates_and_bad_inputs_are_named():
    tile = Tile(TileConfig.ideal(8, 8), np.zeros((8, 8), np.float32))
    with pytest.raises(DataError, match="cannot be updated"):
        tile.update(np.ones(8), np.ones(8), 0.1)
    training = _tile(rows=8, cols=8)
    with pytest.raises(DataError, match="NaN"):
        training.update(np.full(8, np.nan), np.ones(8), 0.1)
    with pytest.raises(DataError, match="learning rate"):
        training.update(np.ones(8), np.ones(8), -1.0)


def test_rpu_train_description_gives_a_training_tile_and_hermes64_none():
    chip = load_chip("rpu_train")
    config = TileConfig.from_chip(chip)
    assert config.training is not None and config.training.bl == 31
    device = config.training.device
    assert (device.kind, device.dw_min, device.w_max, device.w_min) == ("constant_step", 0.001,
                                                                        0.6, -0.6)
    assert (device.dtod, device.up_down_dtod, device.bound_dtod, device.ctoc) == \
        (0.3, 0.01, 0.3, 0.3)
    assert (config.dac_bits, config.adc_bits, config.out_bound, config.output_noise_std) == \
        (7, 9, 12.0, 0.06)
    assert load_chip("hermes64").training is None
    assert TileConfig.from_chip(load_chip("hermes64")).training is None


def test_a_bad_training_field_is_named_by_its_key_path():
    import yaml

    from chipsim.arch import parse_chip
    from chipsim.arch.loader import BUILTIN_DIR
    from chipsim.errors import DescriptionError
    data = yaml.safe_load((BUILTIN_DIR / "rpu_train.yaml").read_text())
    data["training"]["device"]["dw_min"] = -0.001
    with pytest.raises(DescriptionError, match=r"x.yaml: training.device.dw_min: expected"):
        parse_chip(yaml.safe_dump(data), "x.yaml")


def test_a_pcm_like_device_is_selected_by_the_description():
    import yaml

    from chipsim.arch import parse_chip
    from chipsim.arch.loader import BUILTIN_DIR
    from chipsim.errors import DescriptionError
    data = yaml.safe_load((BUILTIN_DIR / "rpu_train.yaml").read_text())
    data["training"]["device"].update(kind="pcm_like", nonlinearity=1.5, reset_step=8.0)
    device = TileConfig.from_chip(parse_chip(yaml.safe_dump(data))).training.device
    assert (device.kind, device.nonlinearity, device.reset_step) == ("pcm_like", 1.5, 8.0)
    data["training"]["device"]["reset_step"] = 0.0
    with pytest.raises(DescriptionError, match=r"training.device.reset_step: expected"):
        parse_chip(yaml.safe_dump(data), "x.yaml")
    del data["training"]["device"]["reset_step"]
    with pytest.raises(DescriptionError, match=r"training.device.reset_step"):
        parse_chip(yaml.safe_dump(data), "x.yaml")
    data["training"]["device"].update(kind="soft_bounds")  # its knobs belong to pcm_like only
    with pytest.raises(DescriptionError, match=r"training.device.nonlinearity"):
        parse_chip(yaml.safe_dump(data), "x.yaml")


def test_pcm_like_update_kernel_applies_the_device_steps():
    # without noise, every device's change in one update is some number n of its own steps
    # (`pulsed.pulses`): up by the shrinking SET steps, down by RESET steps
    p = PulsedParams(kind="pcm_like", ctoc=0.0, dtod=0.2, dw_min=0.01)
    config = TileConfig.ideal(32, 16, training=UpdateConfig(device=p))
    rs = np.random.default_rng(9)
    w0 = rs.uniform(-0.3, 0.3, (32, 16)).astype(np.float32)
    tile = Tile(config, w0, tile_id=1, seed=4)
    x, d = rs.uniform(-1, 1, 32), rs.uniform(-1, 1, 16)
    arr = tile.pulsed
    start = arr.weights().astype(np.float64)  # w0 within each device's bounds
    tile.update(x, d, 0.05)
    w1 = arr.weights()
    up = np.outer(x, d) < 0
    candidates = np.stack([pulsed.pulses(start, np.full(w0.shape, n), up,
                                         arr.devices, np.zeros(w0.shape), p)
                           for n in range(32)])
    nearest = np.abs(candidates - w1[None]).min(axis=0)
    assert nearest.max() < 1e-5
    assert (w1 != start).mean() > 0.3


def test_pcm_like_tile_trains_weights_in_the_right_direction_on_average():
    p = PulsedParams(kind="pcm_like", w_max=1.0, w_min=-1.0)
    config = TileConfig.ideal(32, 16, training=UpdateConfig(device=p))
    tile = Tile(config, np.zeros((32, 16), np.float32), tile_id=1, seed=5)
    rs = np.random.default_rng(10)
    x, d = rs.uniform(-1, 1, 32).astype(np.float32), rs.uniform(-1, 1, 16).astype(np.float32)
    for _ in range(20):
        tile.update(x, d, 0.002)
    change = tile.pulsed.weights()
    wanted = -np.outer(x, d)
    big = np.abs(wanted) > 0.3
    assert np.mean(np.sign(change[big]) == np.sign(wanted[big])) > 0.95
    # up moves are SET steps, down moves RESET steps reset_step times larger
    up, down = big & (wanted > 0), big & (wanted < 0)
    assert np.abs(change[down]).mean() > 3 * np.abs(change[up]).mean()

