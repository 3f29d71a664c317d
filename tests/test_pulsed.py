"""Pulsed-update device physics: steps, symmetry point, zero-shifting."""

from __future__ import annotations

import numpy as np
import pytest

from chipsim.device import pulsed


def _devices(p: pulsed.PulsedParams, shape, seed=0) -> pulsed.Devices:
    return pulsed.draw_devices(p, np.random.default_rng(seed).standard_normal((4, *shape)))


def _draws(shape, seed):
    rs = np.random.default_rng(seed)
    return lambda k: (rs.standard_normal(shape), rs.standard_normal(shape))


def test_constant_step_mean_update_equals_the_requested_one():
    # n up pulses of a constant-step device move it by n a+ on average; the cycle-to-cycle
    # noise adds a std of a+ s sqrt(n) per device: 5 sigma of the mean over all devices
    p = pulsed.PulsedParams(kind="constant_step", dw_min=1e-3, dtod=0.0, ctoc=0.3, w_max=10,
                            w_min=-10)
    shape, n = (200, 50), 40
    dev = _devices(p, shape)
    rs = np.random.default_rng(1)
    w = np.zeros(shape)
    for _ in range(n):
        w = pulsed.pulse(w, np.ones(shape, bool), dev, rs.standard_normal(shape), p)
    sigma_mean = p.dw_min * p.ctoc * np.sqrt(n) / np.sqrt(w.size)
    assert abs(w.mean() - n * p.dw_min) < 5 * sigma_mean
    w_down = pulsed.pulse(w, np.zeros(shape, bool), dev, np.zeros(shape), p)
    np.testing.assert_allclose(w - w_down, p.dw_min)  # no noise: exactly one step


def test_soft_bound_steps_shrink_towards_the_bound_and_clip():
    p = pulsed.PulsedParams(dtod=0.0, bound_dtod=0.0, ctoc=0.0, dw_min=0.1)
    dev = _devices(p, (3,))
    w = np.array([0.0, 0.3, 0.6])
    up = pulsed.pulse(w, np.ones(3, bool), dev, np.zeros(3), p)
    np.testing.assert_allclose(up - w, [0.1, 0.05, 0.0])
    low = pulsed.pulse(np.full(3, -0.6), np.zeros(3, bool), dev, np.full(3, 5.0), p)
    assert (low >= -0.6).all()


@pytest.mark.parametrize("up_down", [0.3, -0.3])
def test_measured_symmetry_point_matches_the_formula_within_2_percent(up_down):
    # device-to-device variation of every parameter and cycle-to-cycle noise on; a systematic
    # imbalance puts w* well away from 0, so 2 % is a meaningful relative tolerance. The mean
    # of N pairs scatters by about s b / sqrt(N) whatever the step (slower relaxation, larger
    # excursions): N = 40,000 keeps that 4x below 2 % of |w*| ~ 0.18
    p = pulsed.PulsedParams(up_down=up_down, dw_min=0.002, dtod=0.05, bound_dtod=0.1, ctoc=0.3)
    shape = (64,)
    dev = _devices(p, shape, seed=2)
    w_star = pulsed.symmetry_point(dev)
    measured = pulsed.measure_symmetry_point(np.zeros(shape), dev, 44000, _draws(shape, 3), p,
                                             averaged=40000)
    np.testing.assert_array_less(np.abs(measured - w_star), 0.02 * np.abs(w_star))


def test_step_variation_leaves_the_symmetry_point_and_imbalance_spread_scatters_it():
    # the 30 % step spread moves a+ and a- together (Gokmen and Vlasov's parametrization):
    # symmetric bounds then keep w* = 0 exactly; an imbalance spread sigma scatters w* by
    # about b sigma (w* = b u for symmetric bounds and device imbalance u)
    base = dict(dtod=0.3, bound_dtod=0.0, up_down=0.0)
    still = pulsed.symmetry_point(_devices(pulsed.PulsedParams(**base), (4000,)))
    np.testing.assert_allclose(still, 0.0, atol=1e-12)
    spread = pulsed.symmetry_point(_devices(pulsed.PulsedParams(**base, up_down_dtod=0.05),
                                            (4000,)))
    assert abs(spread.std() / (0.6 * 0.05) - 1) < 0.05


def test_symmetry_point_formula_is_where_up_and_down_steps_agree():
    p = pulsed.PulsedParams(up_down=0.25)
    dev = _devices(p, (100,), seed=4)
    w = pulsed.symmetry_point(dev)
    up = dev.a_up * (1 - w / dev.b_max)
    down = dev.a_down * (1 - w / dev.b_min)
    np.testing.assert_allclose(up, down)


def test_zero_shifting_puts_each_zero_within_one_step_of_its_symmetry_point():
    # variation from device to device, so every device has its own w*
    p = pulsed.PulsedParams(up_down=0.1, dtod=0.1, ctoc=0.0)
    shape = (32, 8)
    dev = _devices(p, shape, seed=5)
    zeros = np.zeros(shape)
    measured = pulsed.measure_symmetry_point(np.zeros(shape), dev, 10000, lambda k: (zeros, zeros),
                                             p, averaged=100)
    reference = pulsed.zero_shift(measured)
    step = np.minimum(dev.a_up, dev.a_down)
    np.testing.assert_array_less(np.abs(reference - pulsed.symmetry_point(dev)), step)


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="PulsedParams.w_min"):
        pulsed.PulsedParams(w_min=0.5)


@pytest.mark.parametrize("kind", ["constant_step", "soft_bounds"])
def test_n_pulses_at_once_match_n_pulses_in_turn(kind):
    # same device, n pulses one after another (n draws) or at once (one draw): equal for n = 1,
    # equal in mean and spread over many devices for n > 1 (5 sigma of the means)
    p = pulsed.PulsedParams(kind=kind, dw_min=0.01, up_down=0.2, ctoc=0.3, bound_dtod=0.0)
    shape = (20000,)
    dev = _devices(p, shape, seed=6)
    rs = np.random.default_rng(7)
    w0 = rs.uniform(-0.3, 0.3, shape)  # 9 steps (< 0.03 each) stay inside +-0.6
    up = rs.random(shape) < 0.5
    z = rs.standard_normal(shape)
    np.testing.assert_allclose(pulsed.pulses(w0, np.ones(shape), up, dev, z, p),
                               pulsed.pulse(w0, up, dev, z, p), atol=1e-12)
    n = 9
    w = w0
    for _ in range(n):
        w = pulsed.pulse(w, up, dev, rs.standard_normal(shape), p)
    at_once = pulsed.pulses(w0, np.full(shape, n), up, dev, rs.standard_normal(shape), p)
    noiseless = pulsed.pulses(w0, np.full(shape, n), up, dev, np.zeros(shape), p)
    a, b = w - noiseless, at_once - noiseless  # the cycle-to-cycle part of each
    spread = a.std() / np.sqrt(a.size)
    assert abs(a.mean()) < 5 * spread and abs(b.mean()) < 5 * spread
    assert abs(a.std() / b.std() - 1) < 0.05
    assert (pulsed.pulses(w0, np.zeros(shape), up, dev, z, p) == w0).all()


# ------------------------------------------------------------------------------- PCM-like device


def _pcm(**changes) -> pulsed.PulsedParams:
    base = dict(kind="pcm_like", dw_min=0.01, dtod=0.0, bound_dtod=0.0, ctoc=0.3,
                nonlinearity=2.0, reset_step=10.0)
    return pulsed.PulsedParams(**{**base, **changes})


def test_pcm_like_mean_set_step_shrinks_as_the_weight_grows():
    # from b_min up to b_max by SET pulses: the mean step over many devices at each stage is
    # a+ ((b_max - w) / b_max)^gamma of the stage's mean w (noise averages out), falling all the way
    p = _pcm()
    shape = (4000,)
    dev = _devices(p, shape)
    rs = np.random.default_rng(2)
    w = np.full(shape, p.w_min)
    steps, starts = [], []
    for _ in range(150):
        after = pulsed.pulse(w, np.ones(shape, bool), dev, rs.standard_normal(shape), p)
        steps.append((after - w).mean())
        starts.append(w.mean())
        w = after
    steps, starts = np.array(steps), np.array(starts)
    expected = p.dw_min * ((p.w_max - starts) / p.w_max) ** p.nonlinearity
    assert np.all(np.diff(steps[::10]) < 0)  # shrinking
    assert steps[0] == pytest.approx(p.dw_min * 4, rel=0.02)  # (1 + 0.6/0.6)^2 at b_min
    # the mean of the step at the devices' own w is the step at their mean w to second order
    np.testing.assert_allclose(steps, expected, rtol=0.05, atol=2e-4)


def test_pcm_like_down_step_is_abrupt_and_the_same_everywhere():
    p = _pcm(ctoc=0.0)
    dev = _devices(p, (3,))
    w = np.array([-0.3, 0.0, 0.5])
    down = pulsed.pulse(w, np.zeros(3, bool), dev, np.zeros(3), p)
    np.testing.assert_allclose(w - down, p.dw_min * p.reset_step)
    up = pulsed.pulse(w, np.ones(3, bool), dev, np.zeros(3), p)
    assert np.all(up - w < w - down)  # a SET step is smaller than a RESET step
    assert pulsed.pulse(np.array([0.6]), np.ones(1, bool), _devices(p, (1,)), np.zeros(1),
                        p)[0] == pytest.approx(0.6)  # no SET step at b_max


def test_pcm_like_n_pulses_at_once_equal_n_single_pulses_without_noise():
    p = _pcm(ctoc=0.0)
    shape = (5,)
    dev = _devices(p, shape)
    w0 = np.linspace(-0.5, 0.5, 5)
    for up in (True, False):
        w = w0.copy()
        direction = np.full(shape, up)
        for _ in range(7):
            w = pulsed.pulse(w, direction, dev, np.zeros(shape), p)
        at_once = pulsed.pulses(w0, np.full(shape, 7), direction, dev, np.zeros(shape), p)
        np.testing.assert_allclose(at_once, w, rtol=1e-12, atol=1e-12)


def test_pcm_like_params_check_their_knobs():
    with pytest.raises(ValueError, match="nonlinearity"):
        _pcm(nonlinearity=-1.0)
    with pytest.raises(ValueError, match="reset_step"):
        _pcm(reset_step=0.0)
