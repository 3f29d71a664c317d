"""Convolutions trained on tiles (chipsim.training.conv), the chain of layers, the batched
pulsed update and `chipsim train --graph` with a CNN."""

from __future__ import annotations

import json

import numpy as np
import pytest

from chipsim.arch import load_chip
from chipsim.cli import main
from chipsim.device import pulsed
from chipsim.device.pulsed import PulsedParams
from chipsim.errors import GraphError
from chipsim.kernels import rng
from chipsim.kernels import update as kernels
from chipsim.kernels.threads import limit_threads, thread_count
from chipsim.tile_update import PulsedArray, UpdateConfig
from chipsim.training import FloatMatrix, TileMatrix, TrainSpec, train, training_tile_config
from chipsim.training.chain import Chain, ConvShape, DenseShape, FlattenShape, PoolShape
from chipsim.training.conv import Conv
from chipsim.training.layers import MaxPool
from chipsim.training.network import build_network

GEOMETRIES = [ConvShape(5, (3, 3), pads=(1, 1, 1, 1)),
              ConvShape(4, (3, 2), stride=(2, 1), pads=(0, 1, 2, 0), dilation=(1, 2))]


def _direct(x: np.ndarray, w: np.ndarray, shape: ConvShape) -> np.ndarray:
    """Convolution by its definition, in float64: w (C_out, C_in, kh, kw)."""
    (sh, sw), (dh, dw), (top, left, bottom, right) = shape.stride, shape.dilation, shape.pads
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (top, bottom), (left, right)))
    _, ho, wo = shape.output(x.shape[1:])
    y = np.zeros((x.shape[0], w.shape[0], ho, wo))
    for oh in range(ho):
        for ow in range(wo):
            for i in range(w.shape[2]):
                for j in range(w.shape[3]):
                    patch = xp[:, :, oh * sh + i * dh, ow * sw + j * dw]  # (B, C_in)
                    y[:, :, oh, ow] += patch @ w[:, :, i, j].T
    return y


def _kernel(matrix: np.ndarray, c_in: int, shape: ConvShape) -> np.ndarray:
    """The im2col matrix (C_in kh kw, C_out) back as a kernel (C_out, C_in, kh, kw)."""
    return matrix.T.reshape(shape.channels, c_in, *shape.kernel).astype(np.float64)


@pytest.mark.parametrize("shape", GEOMETRIES)
def test_float_conv_forward_is_a_direct_convolution(shape):
    rs = np.random.default_rng(0)
    x = rs.normal(size=(2, 3, 7, 6)).astype(np.float32)
    w = rs.normal(size=(3 * shape.kernel[0] * shape.kernel[1], shape.channels))
    bias = rs.normal(size=shape.channels).astype(np.float32)
    layer = Conv(FloatMatrix(w), bias.copy(), None, shape)
    expected = _direct(x, _kernel(layer.matrix.w, 3, shape), shape) + bias[None, :, None, None]
    np.testing.assert_allclose(layer.forward(x, 0), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", GEOMETRIES)
def test_float_conv_backward_is_the_finite_difference_gradient(shape):
    # L = sum(conv(x, W) * r) is linear in x and W: central differences of the float64
    # direct convolution are its exact gradient up to round-off
    rs = np.random.default_rng(1)
    x = rs.normal(size=(2, 3, 7, 6)).astype(np.float32)
    w = rs.normal(size=(3 * shape.kernel[0] * shape.kernel[1], shape.channels))
    layer = Conv(FloatMatrix(w), np.zeros(shape.channels, np.float32), None, shape)
    kernel = _kernel(layer.matrix.w, 3, shape)
    y = layer.forward(x, 0)
    r = rs.normal(size=y.shape).astype(np.float32)

    def loss(xv, kv):
        return float((_direct(xv, kv, shape) * r).sum())

    eps = 0.5
    fd_x = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        e = np.zeros(x.shape)
        e[idx] = eps
        fd_x[idx] = (loss(x + e, kernel) - loss(x - e, kernel)) / (2 * eps)
    fd_w = np.zeros(kernel.shape)
    for idx in np.ndindex(kernel.shape):
        e = np.zeros(kernel.shape)
        e[idx] = eps
        fd_w[idx] = (loss(x, kernel + e) - loss(x, kernel - e)) / (2 * eps)
    before = layer.matrix.w.copy()
    below = layer.backward(x, y, r, 0, 1.0, propagate=True)
    np.testing.assert_allclose(below, fd_x, rtol=1e-4, atol=1e-4)
    gradient = _kernel(before - layer.matrix.w, 3, shape)  # the update W -= 1.0 * dL/dW
    np.testing.assert_allclose(gradient, fd_w, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(-layer.bias, r.sum(axis=(0, 2, 3)), rtol=1e-5, atol=1e-4)


def test_max_pool_passes_the_gradient_to_each_window_maximum():
    rs = np.random.default_rng(2)
    x = rs.normal(size=(2, 3, 7, 6))
    pool = MaxPool(PoolShape((3, 2), (2, 2)))  # overlapping rows, a leftover row and column
    y = pool.forward(x, 0)
    r = rs.normal(size=y.shape)
    below = pool.backward(x, y, r, 0, 0.0, propagate=True)
    eps = 1e-6
    for idx in np.ndindex(x.shape):
        e = np.zeros(x.shape)
        e[idx] = eps
        fd = ((pool.forward(x + e, 0) - pool.forward(x - e, 0)) * r).sum() / (2 * eps)
        assert abs(below[idx] - fd) < 1e-6


def _chain() -> Chain:
    return Chain((1, 8, 8), (ConvShape(4, (3, 3), pads=(1, 1, 1, 1)), PoolShape((2, 2), (2, 2)),
                             ConvShape(6, (3, 3)), FlattenShape(), DenseShape(5)))


def test_network_gradient_through_the_chain_matches_finite_differences():
    # a float network (sigmoid), one SGD step of lr 1e-3 on one image: the first conv's weights
    # move by -1e-3 dL/dW, checked against central differences of the loss
    net = build_network(_chain(), "sigmoid", 3)
    rs = np.random.default_rng(4)
    x = rs.uniform(0, 1, (1, 1, 8, 8)).astype(np.float32)
    label = np.array([2])
    conv = net.layers[0].matrix
    w0 = conv.w.copy()

    def loss() -> float:
        from chipsim.training.functions import softmax_cross_entropy
        return float(softmax_cross_entropy(net._forward(x, 0)[-1], label)[0].sum())

    eps = 1e-3  # small enough that no window's maximum changes place
    fd = np.zeros(w0.shape)
    for idx in np.ndindex(w0.shape):
        conv.w[...] = w0
        conv.w[idx] += eps
        up = loss()
        conv.w[idx] -= 2 * eps
        fd[idx] = (up - loss()) / (2 * eps)
    conv.w[...] = w0
    net.train_step(x, label, 1e-3)
    gradient = (w0 - conv.w).astype(np.float64) / 1e-3
    np.testing.assert_allclose(gradient, fd, rtol=0.02, atol=2e-4)
    assert np.abs(fd).max() > 1e-2  # a gradient worth checking


def test_ideal_tile_conv_matches_the_float_conv_on_forward_and_backward():
    config = training_tile_config(load_chip("rpu_train"), ideal=True).replace(rows=16, cols=4)
    shape = ConvShape(6, (3, 3), pads=(1, 1, 1, 1))  # a 27 x 6 matrix over 2 x 2 tiles
    rs = np.random.default_rng(5)
    w = rs.uniform(-0.3, 0.3, (27, 6)).astype(np.float32)
    tiles = TileMatrix(config, w, 0, 7)
    assert tiles.tile_count == 4
    bias = rs.normal(size=6).astype(np.float32)
    on_tiles = Conv(tiles, bias.copy(), "sigmoid", shape)
    in_float = Conv(FloatMatrix(tiles.weights()), bias.copy(), "sigmoid", shape)
    x = rs.uniform(0, 1, (3, 3, 5, 5)).astype(np.float32)
    y = on_tiles.forward(x, 0)
    np.testing.assert_allclose(y, in_float.forward(x, 0), rtol=1e-5, atol=1e-6)
    d = rs.normal(size=y.shape).astype(np.float32)
    below = on_tiles.backward(x, y, d, 0, 0.0, propagate=True)  # lr 0: no update
    np.testing.assert_allclose(below, in_float.backward(x, y, d, 0, 0.0, propagate=True),
                               rtol=1e-5, atol=1e-6)


def _one_by_one(array: PulsedArray, x: np.ndarray, d: np.ndarray, lr: float) -> None:
    """The update as it ran before the batched kernel: one rank-1 update a Python call, its
    probability scales in numpy, then the kernels `pulse_trains` and `apply_coincidences`."""
    c, s = array.config, array.config.device
    scale = np.sqrt(lr / (c.bl * s.dw_min))
    rows, cols = array.state.shape
    for xk, dk in zip(x, d):
        u = array.updates
        array.updates += 1
        x_max, d_max = float(np.abs(xk).max()), float(np.abs(dk).max())
        if x_max == 0 or d_max == 0:
            continue
        m = np.sqrt(d_max / x_max) if c.update_management else 1.0
        row_scale, col_scale = float(scale * m), float(scale / m)
        trains = np.empty(rows, np.uint64), np.empty(cols, np.uint64)
        negative = np.empty(rows, np.bool_), np.empty(cols, np.bool_)
        kernels.pulse_trains(array._keys[rng.PULSE_ROWS], u, xk, row_scale, c.bl,
                             trains[0], negative[0], 0, rows)
        kernels.pulse_trains(array._keys[rng.PULSE_COLS], u, dk, col_scale, c.bl,
                             trains[1], negative[1], 0, cols)
        array.pulses += kernels.apply_coincidences(
            array.state, trains[0], negative[0], trains[1], negative[1], array._table,
            pulsed.KINDS.index(s.kind), s.ctoc, array._keys[rng.CYCLE_NOISE], u,
            s.nonlinearity, 0, rows)


@pytest.mark.parametrize("kind", pulsed.KINDS)
@pytest.mark.parametrize("managed", [True, False])
def test_batched_update_equals_the_one_by_one_updates_bit_for_bit(kind, managed):
    config = UpdateConfig(device=PulsedParams(kind=kind), update_management=managed)
    rs = np.random.default_rng(6)
    w = rs.uniform(-0.3, 0.3, (27, 10)).astype(np.float32)
    x = rs.uniform(0, 1, (60, 27)).astype(np.float32)
    d = rs.normal(0, 0.5, (60, 10)).astype(np.float32)
    x[5] = 0  # an all-zero patch (padding, background): no pulses, its number used up
    d[9] = 0
    arrays = [PulsedArray(config, w, tile_id=3, seed=2) for _ in range(3)]
    arrays[0].update(x, d, 0.05)
    _one_by_one(arrays[1], x, d, 0.05)
    for k0 in range(0, 60, 7):  # unequal pieces, one call each
        arrays[2].update(x[k0:k0 + 7], d[k0:k0 + 7], 0.05)
    assert arrays[0].pulses > 0
    for other in arrays[1:]:
        np.testing.assert_array_equal(arrays[0].state, other.state)
        assert (arrays[0].updates, arrays[0].pulses) == (other.updates, other.pulses)


def test_cnn_training_is_bit_identical_at_one_and_two_threads():
    before = thread_count()
    # 600 rows: the dense layer's first tile splits its update over 2 threads; batch 8 puts
    # 512 patches through the first conv's reads, split as well
    config = training_tile_config(load_chip("rpu_train")).replace(rows=600, cols=64)
    chain = Chain((1, 8, 8), (ConvShape(16, (3, 3), pads=(1, 1, 1, 1)), FlattenShape(),
                              DenseShape(10)))
    results = []
    try:
        for threads in (1, 2):
            limit_threads(threads)
            spec = TrainSpec(layers=chain, data="digits", activation="relu", epochs=1, lr=0.1,
                             batch=8, train_limit=48, tile_config=config)
            results.append(train(spec)[0])
    finally:
        limit_threads(before)
    a, b = results
    assert (a.train_loss, a.test_accuracy, a.test_loss) == (b.train_loss, b.test_accuracy,
                                                             b.test_loss)


TINY_CNN = """
inputs: {image: [1, 8, 8]}
layers:
  - {name: conv1, op: conv2d, out_channels: 4, kernel_shape: [3, 3], pads: [1, 1, 1, 1],
     weights: {init: {}}}
  - {name: relu1, op: relu}
  - {name: pool1, op: maxpool, kernel_shape: [2, 2], strides: [2, 2]}
  - {name: flat, op: reshape, shape: [64]}
  - {name: fc, op: dense, units: 10, weights: {init: {}}}
"""


@pytest.mark.parametrize("device", ["tiles", "float"])
def test_train_a_cnn_graph_end_to_end_with_json(capsys, tmp_path, device):
    (tmp_path / "cnn.yaml").write_text(TINY_CNN)
    code = main(["train", "--graph", str(tmp_path / "cnn.yaml"), "--data", "digits",
                 "--activation", "relu", "--epochs", "2", "--train-limit", "300",
                 "--out", str(tmp_path / "r"), "--json"] + (["--float"] if device == "float"
                                                            else []))
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["settings"]["layers"] == "1x8x8 conv3x3x4 maxpool2x2 flatten dense10"
    assert [e["epoch"] for e in doc["epochs"]] == [1, 2]
    # it learns (chance is 0.1); measured 0.39 on rpu_train's tiles, 0.78 in float
    assert doc["epochs"][-1]["test_accuracy"] > {"tiles": 0.25, "float": 0.5}[device]
    assert len((tmp_path / "r" / "results.csv").read_text().splitlines()) == 3


def test_an_unsupported_node_is_a_one_line_error_naming_it(capsys, tmp_path):
    (tmp_path / "avg.yaml").write_text(TINY_CNN.replace("op: maxpool", "op: avgpool"))
    assert main(["train", "--graph", str(tmp_path / "avg.yaml"), "--data", "digits",
                 "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "pool1" in err and "avgpool" in err
    from chipsim.training.shapes import network_chain

    with pytest.raises(GraphError, match="node fc .*dense on a 3-D input"):
        network_chain(_write(tmp_path, TINY_CNN.replace("  - {name: flat, op: reshape, "
                                                        "shape: [64]}\n", "")))


def _write(tmp_path, text):
    path = tmp_path / "net.yaml"
    path.write_text(text)
    return path
