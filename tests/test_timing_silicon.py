"""The timed model against the built-in chip's silicon: peak throughput and efficiency."""

from __future__ import annotations

import pytest

from chipsim.arch import load_chip
from chipsim.arch.metrics import mode_metrics
from chipsim.timing.peak import MEASURED, PeakWorkload, compare


@pytest.fixture(scope="module")
def rows():
    chip = load_chip("hermes64")
    return {r["read_mode"]: r for r in compare(chip, PeakWorkload(chip, mvms=8))}


@pytest.mark.parametrize("mode", ["one_phase", "four_phase"])
def test_peak_within_ten_percent_of_the_measured_chip(rows, mode):
    r = rows[mode]
    measured = MEASURED["hermes64"][mode]
    assert r["model_tops"] == pytest.approx(measured["tops"], rel=0.10)
    assert r["model_tops_per_w"] == pytest.approx(measured["tops_per_w"], rel=0.10)


@pytest.mark.parametrize("mode", ["one_phase", "four_phase"])
def test_event_model_reproduces_the_description_formula(rows, mode):
    """Time exactly; energy within the spread of real programmed conductances (a few %)."""
    r = rows[mode]
    f = mode_metrics(load_chip("hermes64"), mode)
    assert r["model_mvm_ns"] == pytest.approx(f.mvm_ns, rel=1e-9)
    assert r["model_tops"] == pytest.approx(f.peak_tops, rel=1e-9)
    assert r["model_mvm_energy_pj"] == pytest.approx(f.mvm_energy_pj, rel=0.05)
