"""Training networks on tiles (chipsim.training) and `chipsim train`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from chipsim.arch import load_chip
from chipsim.cli import main
from chipsim.errors import DescriptionError
from chipsim.kernels.threads import limit_threads, thread_count
from chipsim.training import FloatMatrix, TrainSpec, build_network, train, training_tile_config


def test_float_path_trains_the_mlp_on_digits_above_chance_in_one_epoch():
    result = train(TrainSpec(layers=(64, 32, 10), data="digits", epochs=1, lr=0.1))
    assert result[0].test_accuracy > 0.5


def test_ideal_tiles_equal_the_float_path_on_a_forward_backward_step():
    config = training_tile_config(load_chip("rpu_train"), ideal=True)
    config = config.replace(rows=16, cols=8)  # small crossbars: every layer spans tiles
    sizes = [20, 12, 5]
    tiles, floats = (build_network(sizes, "sigmoid", 3, c) for c in (config, None))
    for a, b in zip(tiles.layers, floats.layers):  # the devices' bounds clip a few weights
        assert np.abs(a.matrix.weights() - b.matrix.weights()).max() < 0.3
        b.matrix = FloatMatrix(a.matrix.weights())
    rs = np.random.default_rng(0)
    x = rs.uniform(0, 1, (4, 20)).astype(np.float32)
    out_a, out_b = tiles._forward(x, 0), floats._forward(x, 0)
    for va, vb in zip(out_a, out_b):
        np.testing.assert_allclose(va, vb, rtol=1e-5, atol=1e-6)
    d = rs.normal(size=(4, 5)).astype(np.float32)
    np.testing.assert_allclose(tiles.layers[1].matrix.backward(d),
                               floats.layers[1].matrix.backward(d), rtol=1e-5, atol=1e-6)


def test_training_is_bit_identical_at_one_and_two_threads():
    before = thread_count()
    # 600 rows: a layer's update and the test set's DAC split their rows over 2 threads
    config = training_tile_config(load_chip("rpu_train")).replace(rows=600, cols=64)
    results = []
    try:
        for threads in (1, 2):
            limit_threads(threads)
            spec = TrainSpec(layers=(64, 600, 10), data="digits", epochs=1, lr=0.1,
                             train_limit=40, tile_config=config, zero_shift_pairs=20)
            results.append(train(spec)[0])
    finally:
        limit_threads(before)
    a, b = results
    assert (a.train_loss, a.test_accuracy, a.test_loss) == (b.train_loss, b.test_accuracy,
                                                             b.test_loss)


def test_train_json_end_to_end(capsys, tmp_path):
    code = main(["train", "--data", "digits", "--layers", "64,16,10", "--epochs", "2",
                 "--train-limit", "100", "--zero-shift", "--zero-shift-pairs", "50",
                 "--out", str(tmp_path / "r"), "--json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert [e["epoch"] for e in doc["epochs"]] == [1, 2]
    assert doc["settings"]["chip"] == "rpu_train" and doc["settings"]["zero_shift"] is True
    lines = (tmp_path / "r" / "results.csv").read_text().splitlines()
    assert len(lines) == 3 and lines[0].startswith("epoch,")
    assert all((tmp_path / "r" / f).is_file() for f in ("curve.png", "README.md", "index.html"))


def test_kim_study_json_rows(capsys, tmp_path):
    code = main(["train", "--study", "kim", "--train-limit", "30", "--imbalances", "0.3",
                 "--seeds", "2", "--zero-shift-pairs", "20", "--out", str(tmp_path), "--json"])
    assert code == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [(r["device"], r["up_down"], r["zero_shift"]) for r in rows] == [
        ("float", None, False), ("tiles", 0.3, False), ("tiles", 0.3, True)]
    assert all(len(r["accuracies"]) == 2 for r in rows)


def test_a_chip_without_training_section_is_a_one_line_error(capsys):
    assert main(["train", "--chip", "hermes64", "--data", "digits", "--layers", "64,10"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "hermes64" in err and "training" in err
    with pytest.raises(DescriptionError, match="hermes64"):
        training_tile_config(load_chip("hermes64"))


def test_layer_sizes_come_from_a_graph_file_and_an_lstm_is_refused(capsys, tmp_path):
    from pathlib import Path

    from chipsim.training.shapes import network_chain

    workloads = Path(__file__).resolve().parents[1] / "workloads"
    assert network_chain(workloads / "digits_mlp" / "mlp.onnx").describe() == "64,128,10"
    code = main(["train", "--graph", str(workloads / "ptb_lstm" / "lstm.onnx"), "--out",
                 str(tmp_path)])
    assert code == 2 and "embedding" in capsys.readouterr().err
