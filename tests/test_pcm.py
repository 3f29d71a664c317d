"""The PCM model against the statistics of ../shared/reference/pcm-noise.md (200k devices)."""

import numpy as np
import pytest

from chipsim.device import pcm
from chipsim.kernels import rng

N = 200_000
TIMES = (1.0, 3600.0, 86400.0, 365 * 86400.0)
# g_T: (sigma_prog, nu mean, nu std, [(<g>, sd) at 1 s, 1 h, 1 day, 1 year])
REFERENCE = {
    0.0: (0.154, 0.100, 0.044, [(0.107, 0.186), (0.066, 0.122), (0.050, 0.099), (0.032, 0.073)]),
    2.5: (0.448, 0.060, 0.023, [(2.49, 0.61), (1.84, 0.53), (1.54, 0.51), (1.12, 0.49)]),
    12.5: (0.952, 0.049, 0.008, [(12.47, 1.19), (9.70, 1.06), (8.31, 1.03), (6.25, 0.99)]),
    25.0: (1.054, 0.049, 0.008, [(24.94, 1.40), (19.39, 1.41), (16.62, 1.51), (12.50, 1.65)]),
}


def _z(purpose: int, g_index: int) -> np.ndarray:
    return rng.normal_table(11, g_index, purpose, 1, N)[0].astype(np.float64)


@pytest.mark.parametrize("g_index, g_target", list(enumerate(REFERENCE)))
def test_reference_statistics(g_index, g_target):
    p = pcm.PCMParams()
    sigma_ref, nu_mean, nu_std, at_times = REFERENCE[g_target]
    target = np.full(N, g_target)
    g_prog = pcm.program(target, _z(rng.PROGRAMMING, g_index), p)
    assert np.std(g_prog - target) == pytest.approx(sigma_ref, rel=0.05)
    nu = pcm.drift_exponents(target, _z(rng.DRIFT_NU, g_index), p)
    assert nu.mean() == pytest.approx(nu_mean, rel=0.02)
    assert nu.std() == pytest.approx(nu_std, rel=0.05)
    for t, (mean, sd) in zip(TIMES, at_times):
        g = pcm.read(g_prog, pcm.drifted(g_prog, nu, t, p), _z(rng.READ_NOISE, g_index), t, p)
        assert g.mean() == pytest.approx(mean, rel=0.02), f"<g> at t = {t} s"
        assert g.std() == pytest.approx(sd, rel=0.05), f"sd at t = {t} s"


def test_programming_sigma_formula():
    p = pcm.PCMParams()
    assert pcm.programming_sigma(np.array([0.0, 25.0]), p) == pytest.approx([0.26348, 1.05538])
    half = pcm.PCMParams(g_max=12.5)  # scales with g_max / 25 at the same relative target
    assert pcm.programming_sigma(np.array([12.5]), half) == pytest.approx(
        pcm.programming_sigma(np.array([25.0]), p) / 2)


def test_conductances_never_negative():
    p = pcm.PCMParams()
    z = np.linspace(-6, 6, 1001)
    g = pcm.program(np.zeros_like(z), z, p)
    assert g.min() == 0.0
    assert pcm.read(g, g, -z, 1e6, p).min() >= 0.0


def test_drift_follows_power_law():
    p = pcm.PCMParams()
    g = pcm.drifted(np.array([10.0]), np.array([0.05]), 3600.0, p)
    assert g[0] == pytest.approx(10.0 * ((3600 + 20) / 20) ** -0.05)
    assert pcm.drifted(np.array([10.0]), np.array([0.05]), 0.0, p)[0] == 10.0


def test_differential_and_multi_device_targets():
    g_plus, g_minus = pcm.differential_targets(np.array([0.5, -1.0, 2.0]), 50.0)
    assert g_plus.tolist() == [25.0, 0.0, 50.0] and g_minus.tolist() == [0.0, 50.0, 0.0]
    parts = pcm.split_targets(np.array([50.0, 10.0]), 2)
    assert parts.shape == (2, 2) and parts.sum(axis=0).tolist() == [50.0, 10.0]


def test_devices_programmed_in_turn_stay_in_range():
    p = pcm.PCMParams()
    g_cell = np.linspace(0.0, 2 * p.g_max, 4001)
    z = 3.0 * rng.normal_table(2, 0, rng.PROGRAMMING, 2, g_cell.size).astype(np.float64)
    z_verify = rng.normal_table(2, 0, rng.VERIFY_READ, 2, g_cell.size).astype(np.float64)
    targets, _ = pcm.program_in_turn(g_cell, z, z_verify, p)
    assert targets.min() == 0.0 and targets.max() == p.g_max  # both clips are reached
    assert np.count_nonzero(targets[1][g_cell > 0] == 0.0) > 0  # the first one overshot


def test_last_device_absorbs_the_error_of_those_before():
    p = pcm.PCMParams()
    g_cell = np.linspace(10.0, 40.0, 301)  # shares of 5 .. 20 uS: no clip at |z| < 2
    z = np.clip(rng.normal_table(4, 0, rng.PROGRAMMING, 2, g_cell.size), -2, 2).astype(float)
    targets, g_prog = pcm.program_in_turn(g_cell, z, None, p)  # exact read-outs
    np.testing.assert_allclose(targets[0], g_cell / 2)
    np.testing.assert_allclose(g_prog.sum(axis=0) - g_cell, g_prog[1] - targets[1], atol=1e-12)


def test_one_device_programmed_in_turn_is_plain_programming():
    p = pcm.PCMParams()
    g_cell = np.linspace(0.0, p.g_max, 501)
    z = rng.normal_table(5, 0, rng.PROGRAMMING, 1, g_cell.size).astype(np.float64)
    targets, g_prog = pcm.program_in_turn(g_cell, z, None, p)
    assert np.array_equal(targets[0], g_cell)
    assert np.array_equal(g_prog[0], pcm.program(g_cell, z[0], p))


def test_invalid_parameters_are_refused():
    with pytest.raises(ValueError, match="g_max"):
        pcm.PCMParams(g_max=0.0)
