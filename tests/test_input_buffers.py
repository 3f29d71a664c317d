"""The cores' input buffers (`chipsim.timing.buffers`): room, waits and the errors, by hand, and
through the timed model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from chipsim.arch import load_chip
from chipsim.errors import DescriptionError
from chipsim.graph import load_graph, lower
from chipsim.mapping import STRATEGIES
from chipsim.timing.buffers import InputBuffers
from chipsim.timing.simulate import Simulation
from chipsim.timing.trace import Trace

ROOT = Path(__file__).resolve().parents[1]


def test_a_message_waits_for_room_first_come_first_served_by_hand():
    buffers = InputBuffers(100, [7], Trace(1.0, 1))
    sent = []
    a, b = (0, "conv1", "conv0"), (0, "conv2", "conv1")
    assert buffers.admit(0, 7, 60, a, 0, lambda: sent.append("a0"))  # 40 bits left
    assert buffers.admit(2, 7, 30, a, 1, lambda: sent.append("a1"))  # 10 left
    assert not buffers.admit(5, 7, 50, b, 0, lambda: sent.append("b0"))  # no room: waits
    # 10 would fit, but first come, first served: it waits behind b0
    assert not buffers.admit(6, 7, 10, a, 2, lambda: sent.append("a2"))
    buffers.free(20, a, 1)  # conv1 is done with conv0's chunk 0: 70 free, b0 goes, then a2
    assert sent == ["b0", "a2"] and buffers.room[7] == 10
    assert buffers.wait_cycles[7] == (20 - 5) + (20 - 6)
    buffers.free(30, a, float("inf"))  # conv1 done: a1 and a2 freed
    assert buffers.room[7] == 50
    # conv1 reads conv0's chunks no more: a late one passes without holding room
    assert buffers.admit(31, 7, 90, a, 3, lambda: None) and buffers.room[7] == 50
    buffers.forget(40, 0)
    assert buffers.stalled() is None


def test_a_message_larger_than_the_buffer_is_named():
    buffers = InputBuffers(64, [3], Trace(1.0, 1))
    with pytest.raises(DescriptionError, match=r"layer fc: a message of 10 bytes from conv to "
                                               r"core 3 .*input_buffer_bytes = 8\)"):
        buffers.admit(0, 3, 80, (0, "fc", "conv"), 0, lambda: None)


def _walk(tmp_path, size):
    layers = [
        {"name": "c0", "op": "conv2d", "out_channels": 16, "kernel_shape": [3, 3],
         "pads": [1, 1, 1, 1], "weights": {"init": {"kind": "normal", "seed": 1}}},
        {"name": "r0", "op": "relu"},
        {"name": "c1", "op": "conv2d", "out_channels": 16, "kernel_shape": [3, 3],
         "pads": [1, 1, 1, 1], "weights": {"init": {"kind": "normal", "seed": 2}}},
        {"name": "r1", "op": "relu"},
        {"name": "flat", "op": "reshape", "shape": [16 * 8 * 8]},
        {"name": "fc", "op": "dense", "units": 10, "weights": {"init": {"kind": "normal",
                                                                        "seed": 3}}},
    ]
    path = tmp_path / "net.yaml"
    path.write_text(yaml.safe_dump({"name": "net", "inputs": {"x": [3, 8, 8]}, "layers": layers}))
    graph = load_graph(path)
    layers = lower(graph)
    base = load_chip("hermes64")
    chip = base.model_copy(update={"cores": base.cores.model_copy(
        update={"input_buffer_bytes": size})})
    mapping = STRATEGIES["balanced"].place(layers, chip)
    x = np.random.default_rng(0).random((3, 3, 8, 8), dtype=np.float32)
    return Simulation(graph, layers, chip, mapping, seed=0).run(x, trace_inputs=3)


def test_a_small_buffer_makes_senders_wait_and_the_trace_shows_it(tmp_path):
    roomy, _, y_roomy = _walk(tmp_path, None)
    tight, trace, y_tight = _walk(tmp_path, 1200)  # fc's input (1 KiB) and a little more
    assert np.array_equal(y_roomy, y_tight)  # values never depend on timing
    assert "input_buffer_wait_cycles" not in roomy.extra
    assert sum(tight.extra["input_buffer_wait_cycles"].values()) > 0
    assert tight.first_latency_cycles >= roomy.first_latency_cycles
    waits = [e for e in trace.to_json()["traceEvents"] if e.get("name") == "input buffer full"]
    assert waits and all(e["dur"] > 0 for e in waits)


def test_a_buffer_too_small_for_a_layer_names_it_from_the_cli(tmp_path):
    chip = yaml.safe_load((ROOT / "chipsim/arch/chips/hermes64.yaml").read_text())
    # less than the rows one input's c1 window needs: it stops whatever the timing (at 512
    # bytes the window fits, and whether inputs in flight fill the buffer depends on timing)
    chip["cores"]["input_buffer_bytes"] = 256
    (tmp_path / "chip.yaml").write_text(yaml.safe_dump(chip))
    _walk(tmp_path, None)  # writes net.yaml
    run = subprocess.run([sys.executable, "-m", "chipsim.cli", "simulate",
                          str(tmp_path / "net.yaml"), "--chip", str(tmp_path / "chip.yaml"),
                          "--inputs", "2", "--no-calibrate"], cwd=ROOT, capture_output=True,
                         text=True)
    assert run.returncode != 0
    error = run.stderr.splitlines()[-1]
    assert error.startswith("chipsim: error: ") and "input_buffer_bytes = 256" in error, error
    assert "core " in error and ("layer fc" in error or "layer c1" in error), error
