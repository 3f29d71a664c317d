"""Counter-based randomness: honest statistics, and every draw a pure function of its address."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chipsim.kernels import rng


@pytest.fixture(scope="module")
def table() -> np.ndarray:
    return rng.normal_table(seed=7, tile=3, purpose=rng.OUTPUT_NOISE, n_index=1000,
                            n_element=1000).astype(np.float64)


def test_normal_moments(table):
    z = table.ravel()  # 1e6 draws: standard errors 0.001 (mean), 0.0007 (std), 0.0025, 0.005
    m, s = z.mean(), z.std()
    assert abs(m) < 0.005
    assert abs(s - 1) < 0.004
    assert abs(((z - m) ** 3).mean() / s**3) < 0.015
    assert abs(((z - m) ** 4).mean() / s**4 - 3) < 0.03


def test_normal_tails_match_gaussian(table):
    z = np.abs(table.ravel())
    for k, p in [(1, 0.31731), (2, 0.04550), (3, 0.00270)]:
        assert abs((z > k).mean() - p) < 5 * np.sqrt(p / z.size) + 1e-4


def test_neighbouring_counters_are_independent(table):
    pairs = [
        (table[:, 0::2], table[:, 1::2]),  # the two draws of one Box-Muller pair
        (table[:, 1:-1:2], table[:, 2::2]),  # neighbours across pairs
        (table[:-1], table[1:]),  # neighbouring input indices
        (table ** 2 - 1, np.roll(table, 1, axis=1) ** 2 - 1),  # no variance coupling either
    ]
    for a, b in pairs:
        assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 0.006


def test_uniform_moments():
    u = rng.uniform_table(1, 0, rng.PROGRAMMING, 500, 1000).astype(np.float64).ravel()
    assert 0 < u.min() and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.002
    assert abs(u.var() - 1 / 12) < 0.0005
    counts = np.histogram(u, bins=20, range=(0, 1))[0]
    assert np.all(np.abs(counts - u.size / 20) < 5 * np.sqrt(u.size / 20))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**40), tile=st.integers(0, 10**6), purpose=st.integers(0, 9),
       index=st.integers(0, 10**9), element=st.integers(0, 999))
def test_scalar_draw_equals_table_entry(seed, tile, purpose, index, element):
    row_n = rng.normal_table(seed, tile, purpose, 1, element + 1, first_index=index)[0]
    row_u = rng.uniform_table(seed, tile, purpose, 1, element + 1, first_index=index)[0]
    assert rng.normal(seed, tile, purpose, index, element) == row_n[element]
    assert rng.uniform(seed, tile, purpose, index, element) == row_u[element]


def test_draws_do_not_depend_on_how_the_table_is_cut():
    whole = rng.normal_table(5, 2, rng.READ_NOISE, 40, 33)
    parts = np.vstack([rng.normal_table(5, 2, rng.READ_NOISE, 13, 33, first_index=0),
                       rng.normal_table(5, 2, rng.READ_NOISE, 27, 33, first_index=13)])
    assert np.array_equal(whole, parts)
    assert np.array_equal(whole[:, :32], rng.normal_table(5, 2, rng.READ_NOISE, 40, 32))


def test_every_address_component_changes_the_draws():
    base = rng.normal_table(1, 1, 1, 4, 64)
    for other in (rng.normal_table(2, 1, 1, 4, 64), rng.normal_table(1, 2, 1, 4, 64),
                  rng.normal_table(1, 1, 2, 4, 64), rng.normal_table(1, 1, 1, 4, 64, 1)):
        assert np.mean(base == other) < 0.01


def test_negative_address_is_refused():
    with pytest.raises(ValueError, match="seed"):
        rng.key(-1, 0, 0)


def test_normal_far_tails_match_gaussian():
    """4 million draws: the counts beyond 3.5, 4 and 4.5 sigma within 5 Poisson sigmas."""
    z = np.abs(rng.normal_table(seed=11, tile=0, purpose=rng.OUTPUT_NOISE, n_index=2000,
                                n_element=2000))
    for k, p in [(3.5, 4.6525e-4), (4.0, 6.3342e-5), (4.5, 6.7953e-6)]:
        expected = p * z.size
        assert abs(int((z > k).sum()) - expected) < 5 * np.sqrt(expected) + 1, k


def test_normal_tails_reach_beyond_seven_sigma():
    """The smallest radius uniform (all its 39 bits zero) gives |z| = sqrt(80 ln 2) = 7.45."""
    z0, z1 = rng.normal_pair(np.uint64(0))
    assert max(abs(z0), abs(z1)) == pytest.approx(np.sqrt(80 * np.log(2)), rel=1e-3)


def test_compiled_kernels_are_dropped_when_any_kernel_source_changes(tmp_path):
    from chipsim.kernels import drop_stale_cache

    (tmp_path / "rng.py").write_text("x = 1\n")
    (tmp_path / "tile.py").write_text("y = 2\n")
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    (cache / "tile.adc-1.py311.nbi").write_text("old")
    assert drop_stale_cache(tmp_path) and not (cache / "tile.adc-1.py311.nbi").exists()
    (cache / "tile.adc-1.py311.nbi").write_text("built from these sources")
    assert not drop_stale_cache(tmp_path) and (cache / "tile.adc-1.py311.nbi").exists()
    (tmp_path / "rng.py").write_text("x = 3\n")  # only the other file changed
    assert drop_stale_cache(tmp_path) and not (cache / "tile.adc-1.py311.nbi").exists()


def test_draws_are_pinned():
    """Reports and figures are regenerated when draws change: a speed-up of the generator must
    keep these (bit patterns of the generator as published with the bundled reports)."""
    table = rng.normal_table(2024, 5, rng.OUTPUT_NOISE, 2, 3, first_index=7)
    assert table.view(np.uint32).tolist() == [[3215887441, 3214517575, 1048945964],
                                              [1056929308, 1064903389, 3207275109]]
    pair = rng.normal_pair(np.uint64(0x0123456789ABCDEF))
    assert pair == (np.float32(-0.8407312631607056), np.float32(-3.1820390224456787))
    assert rng.uniform(2024, 5, rng.PROGRAMMING, 7, 1) == np.float32(0.21955639123916626)
