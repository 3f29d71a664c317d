"""The character LSTM on tiles (chipsim.training.lstm, charlm, text) and `chipsim train` with
--data text and --study gokmen."""

from __future__ import annotations

import json

import numpy as np
import pytest

from chipsim.arch import load_chip
from chipsim.cli import main
from chipsim.errors import DataError
from chipsim.kernels.threads import limit_threads, thread_count
from chipsim.training import FloatMatrix, training_tile_config
from chipsim.training.charlm import TextSpec, build_char_model, train_text
from chipsim.training.text import VOCAB, encode, load_corpus, sequences


def _float64(model):
    """The model's float matrices in float64, for finite differences."""
    for matrix in model.matrices():
        matrix.w = matrix.w.astype(np.float64)
    return model


def test_bptt_gradient_matches_finite_differences():
    model = _float64(build_char_model(7, [5, 4], seed=1))
    for matrix in model.matrices():  # nonzero biases, so their gradients are tested too
        matrix.w[-1] = np.random.default_rng(2).uniform(-0.5, 0.5, matrix.w.shape[1])
    rs = np.random.default_rng(0)
    ids, targets = rs.integers(0, 7, (2, 6)), rs.integers(0, 7, (2, 6))
    _, grads = model.backprop(ids, targets)
    eps = 1e-6
    for matrix, (inputs, errors) in zip(model.matrices(), grads):
        analytic = inputs.T @ errors
        numeric = np.empty_like(matrix.w)
        for index in np.ndindex(matrix.w.shape):
            keep = matrix.w[index]
            matrix.w[index] = keep + eps
            up = model.backprop(ids, targets)[0]
            matrix.w[index] = keep - eps
            down = model.backprop(ids, targets)[0]
            matrix.w[index] = keep
            numeric[index] = (up - down) / (2 * eps)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


def test_ideal_tiles_match_the_float_lstm_to_round_off():
    config = training_tile_config(load_chip("rpu_train"), ideal=True).replace(rows=16, cols=24)
    tiles = build_char_model(10, [8, 6], seed=3, tile_config=config)  # every matrix spans tiles
    floats = build_char_model(10, [8, 6], seed=3)
    for layer, matrix in zip(floats.lstms, tiles.matrices()):
        layer.matrix = FloatMatrix(matrix.weights())  # the devices' bounds clip a few weights
    floats.readout = FloatMatrix(tiles.readout.weights())
    rs = np.random.default_rng(0)
    ids, targets = rs.integers(0, 10, (3, 5)), rs.integers(0, 10, (3, 5))
    logits_t, logits_f = tiles._forward(ids, 0)[2], floats._forward(ids, 0)[2]
    np.testing.assert_allclose(logits_t, logits_f, rtol=1e-5, atol=1e-5)
    (loss_t, grads_t), (loss_f, grads_f) = tiles.backprop(ids, targets), \
        floats.backprop(ids, targets)
    assert loss_t == pytest.approx(loss_f, rel=1e-6)
    for (x_t, d_t), (x_f, d_f) in zip(grads_t, grads_f):  # the transposed reads too
        np.testing.assert_allclose(x_t, x_f, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(d_t, d_f, rtol=1e-4, atol=1e-6)


def test_tile_lstm_training_is_bit_identical_at_one_and_two_threads():
    before = thread_count()
    # 600-row tiles: the LSTM's 518-row update and the 600-vector test reads split over threads
    config = training_tile_config(load_chip("rpu_train")).replace(
        rows=600, cols=256, dac_bits=5, dac_rounding="stochastic")
    results = []
    try:
        for threads in (1, 2):
            limit_threads(threads)
            spec = TextSpec(hidden=(420,), seq_len=5, epochs=1, lr=0.05, train_chars=41,
                            test_chars=3001, tile_config=config)
            results.append(train_text(spec)[0])
    finally:
        limit_threads(before)
    a, b = results
    assert (a.train_loss, a.test_accuracy, a.test_loss) == (b.train_loss, b.test_accuracy,
                                                             b.test_loss)


def test_evaluation_does_not_depend_on_the_chunk_of_sequences_read_together():
    config = training_tile_config(load_chip("rpu_train"))
    model = build_char_model(VOCAB, [16], seed=0, tile_config=config)
    ids, targets = sequences(load_corpus(100, 400).test, 8)
    assert model.evaluate(ids, targets, batch=49) == model.evaluate(ids, targets, batch=7)


def test_text_corpus_is_fixed_and_bad_arguments_are_one_clear_error():
    a, b = load_corpus(1000, 300), load_corpus(1000, 300)
    assert a.sha256 == b.sha256 and len(a.sha256) == 64 and a.chars > 100_000
    assert np.array_equal(a.train, b.train) and len(a.train) == 1000 and len(a.test) == 300
    assert a.train.max() < VOCAB and a.test.min() >= 0
    assert list(encode("a\n\t\u00e9")) == [66, 0, VOCAB - 1, VOCAB - 1]
    with pytest.raises(DataError, match="train_chars"):
        load_corpus(train_chars=1)
    with pytest.raises(DataError, match="test_chars: 10000000 asked"):
        load_corpus(test_chars=10_000_000)
    with pytest.raises(DataError, match="missing_module.py"):
        load_corpus(files=("string.py", "missing_module.py"))
    with pytest.raises(DataError, match="too short"):
        sequences(a.test[:5], 10)


def test_text_training_json_end_to_end(capsys, tmp_path):
    code = main(["train", "--data", "text", "--lstm", "16", "--train-chars", "300",
                 "--test-chars", "200", "--seq-len", "10", "--epochs", "2",
                 "--out", str(tmp_path), "--json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert [e["epoch"] for e in doc["epochs"]] == [1, 2]
    assert doc["settings"]["train_chars"] == 300 and len(doc["settings"]["sha256"]) == 64
    assert all(np.isfinite(e["test_loss"]) for e in doc["epochs"])
    assert (tmp_path / "results.csv").read_text().count("\n") == 3


def test_gokmen_study_json_rows_and_csv(capsys, tmp_path):
    code = main(["train", "--study", "gokmen", "--lstm", "8", "--train-chars", "200",
                 "--test-chars", "100", "--seq-len", "10", "--dac-bits", "5,none",
                 "--imbalances", "0,0.05", "--seeds", "2", "--out", str(tmp_path), "--json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    cells = [(r["device"], r["dac_bits"], r["rounding"], r["up_down"]) for r in doc["rows"]]
    assert cells == [("float", None, None, None), ("tiles", 5, "deterministic", 0.0),
                     ("tiles", 5, "stochastic", 0.0), ("tiles", None, None, 0.0),
                     ("tiles", 7, "deterministic", 0.0), ("tiles", 7, "deterministic", 0.05)]
    assert all(len(r["test_losses"]) == 2 and r["std_test_loss"] >= 0 for r in doc["rows"])
    assert doc["python"] and doc["chars"] > 0 and (doc["epochs"], doc["lr"]) == (3, 0.02)
    lines = (tmp_path / "results.csv").read_text().splitlines()
    assert len(lines) == 7 and lines[0].startswith("device,dac_bits,rounding,up_down")
    assert doc["dac_reads"] == "both"


def test_gokmen_study_quantizes_the_reads_asked_for(monkeypatch):
    from chipsim.training import gokmen

    seen = []
    monkeypatch.setattr(gokmen, "train_text",
                        lambda spec, corpus: seen.append(spec.tile_config) or [_Last()])
    chip = load_chip("rpu_train")
    base = TextSpec(hidden=(4,), train_chars=100, test_chars=50)
    for reads, forward, backward in [("both", True, True), ("forward", True, False),
                                     ("backward", False, True)]:
        seen.clear()
        gokmen.gokmen_study(chip, base, [0], [5], [0.0], reads=reads)
        quantized = [(c.dac_quantization, c.backward_quantized) for c in seen if c is not None]
        assert quantized[:2] == [(forward, backward)] * 2  # 5 bits, both roundings
        assert seen[1].dac_bits == 5 and seen[2].dac_rounding == "stochastic"
    with pytest.raises(ValueError, match="reads"):
        gokmen.gokmen_study(chip, base, [0], [5], [0.0], reads="sideways")


class _Last:
    test_loss, test_accuracy = 1.0, 0.5


@pytest.mark.parametrize("argv, name", [
    (["--dac-bits", "5,x"], "--dac-bits"), (["--lstm", "0"], "--lstm"),
    (["--train-chars", "1"], "--train-chars"), (["--imbalances", "0,1.5"], "--imbalances"),
    (["--seq-len", "0"], "--seq-len"), (["--zero-shift"], "--zero-shift"),
])
def test_bad_text_options_are_one_line_errors(capsys, argv, name):
    assert main(["train", "--study", "gokmen", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and name in err
