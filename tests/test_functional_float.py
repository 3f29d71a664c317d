"""The float reference executor against direct, loop-by-loop numpy definitions of each op."""

from __future__ import annotations

import numpy as np
import pytest

from chipsim.errors import DataError
from chipsim.functional.executor import FloatBackend, mvm_numbers, run_network
from chipsim.functional.im2col import im2col
from chipsim.graph.ir import Graph, Node
from chipsim.graph.lower import lower


def _graph(input_shape, nodes, output):
    g = Graph("test", "test.yaml")
    g.add_input("x", input_shape)
    for node in nodes:
        g.add_node(node)
    g.set_outputs([output])
    return g


def _run(g, x, batch=4):
    return run_network(g, FloatBackend(lower(g)), x, batch=batch)


def _naive_conv(x, w, b, stride, pads, dil, group):
    n, c, h, wd = x.shape
    cout, cin_g, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh = (h + pads[0] + pads[2] - (kh - 1) * dil[0] - 1) // stride[0] + 1
    ow = (wd + pads[1] + pads[3] - (kw - 1) * dil[1] - 1) // stride[1] + 1
    out = np.zeros((n, cout, oh, ow))
    og = cout // group
    for o in range(cout):
        g = o // og
        for i in range(oh):
            for j in range(ow):
                patch = xp[:, g * cin_g:(g + 1) * cin_g,
                           i * stride[0]: i * stride[0] + (kh - 1) * dil[0] + 1: dil[0],
                           j * stride[1]: j * stride[1] + (kw - 1) * dil[1] + 1: dil[1]]
                out[:, o, i, j] = (patch * w[o]).sum(axis=(1, 2, 3)) + b[o]
    return out


@pytest.mark.parametrize("stride,pads,dil,group", [
    ((1, 1), (0, 0, 0, 0), (1, 1), 1),
    ((2, 1), (1, 2, 0, 1), (1, 1), 1),
    ((1, 2), (2, 2, 2, 2), (2, 1), 2),
    ((1, 1), (1, 1, 1, 1), (1, 1), 4),  # depthwise
])
def test_conv_matches_direct_definition(stride, pads, dil, group):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4, 9, 8)).astype(np.float32)
    w = rng.standard_normal((8, 4 // group, 3, 3)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    node = Node("conv", "conv2d", ["x"], ["y"],
                {"strides": list(stride), "pads": list(pads), "dilations": list(dil), "group": group},
                {"W": w, "b": b})
    g = _graph((4, 9, 8), [node], "y")
    np.testing.assert_allclose(_run(g, x, batch=2), _naive_conv(x, w, b, stride, pads, dil, group),
                               rtol=1e-4, atol=1e-4)


def test_im2col_rows_are_output_pixels_in_row_major_order():
    x = np.arange(2 * 1 * 4 * 4, dtype=np.float32).reshape(2, 1, 4, 4)
    rows, oh, ow = im2col(x, {}, (2, 2))
    assert (oh, ow) == (3, 3)
    # MVM p = 4 of image 1: output pixel (1, 1), patch x[1, 0, 1:3, 1:3]
    np.testing.assert_array_equal(rows[1 * 9 + 4], x[1, 0, 1:3, 1:3].reshape(-1))
    np.testing.assert_array_equal(mvm_numbers(3, 2, 9), np.arange(27, 45))


def _naive_pool(x, k, s, pads, kind, ceil=False):
    n, c, h, w = x.shape
    def size(l, kk, ss, pb, pe):
        room = l + pb + pe - kk
        out = (-(-room // ss) if ceil else room // ss) + 1
        return out - 1 if ceil and (out - 1) * ss >= l + pb else out
    oh, ow = size(h, k[0], s[0], pads[0], pads[2]), size(w, k[1], s[1], pads[1], pads[3])
    out = np.zeros((n, c, oh, ow), np.float32)
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * s[0] - pads[0], j * s[1] - pads[1]
            r = slice(max(r0, 0), min(r0 + k[0], h))
            cc = slice(max(c0, 0), min(c0 + k[1], w))
            win = x[:, :, r, cc]
            out[:, :, i, j] = win.max(axis=(2, 3)) if kind == "maxpool" else win.mean(axis=(2, 3))
    return out


@pytest.mark.parametrize("kind", ["maxpool", "avgpool"])
@pytest.mark.parametrize("k,s,pads,ceil", [((2, 2), (2, 2), (0, 0, 0, 0), 0),
                                           ((3, 3), (2, 2), (1, 1, 1, 1), 0),
                                           ((2, 2), (2, 2), (0, 0, 0, 0), 1)])
def test_pooling_matches_direct_definition(kind, k, s, pads, ceil):
    x = np.random.default_rng(1).standard_normal((3, 2, 7, 7)).astype(np.float32)
    node = Node("pool", kind, ["x"], ["y"],
                {"kernel_shape": list(k), "strides": list(s), "pads": list(pads), "ceil_mode": ceil})
    g = _graph((2, 7, 7), [node], "y")
    np.testing.assert_allclose(_run(g, x), _naive_pool(x, k, s, pads, kind, bool(ceil)),
                               rtol=1e-6, atol=1e-6)


def test_lstm_matches_onnx_equations():
    rng = np.random.default_rng(2)
    d, h, steps = 3, 5, 4
    w = rng.standard_normal((4 * h, d)).astype(np.float32)
    r = rng.standard_normal((4 * h, h)).astype(np.float32)
    bias = rng.standard_normal(8 * h).astype(np.float32)
    node = Node("lstm", "lstm", ["x"], ["y"], {"hidden_size": h}, {"W": w, "R": r, "B": bias})
    g = _graph((steps, d), [node], "y")
    x = rng.standard_normal((6, steps, d)).astype(np.float32)
    sig = lambda v: 1 / (1 + np.exp(-v))
    hs, cs = np.zeros((6, h)), np.zeros((6, h))
    want = np.zeros((6, steps, h))
    for t in range(steps):
        z = x[:, t] @ w.T + hs @ r.T + bias[:4 * h] + bias[4 * h:]
        i, o, f, c = sig(z[:, :h]), sig(z[:, h:2 * h]), sig(z[:, 2 * h:3 * h]), np.tanh(z[:, 3 * h:])
        cs = f * cs + i * c
        hs = o * np.tanh(cs)
        want[:, t] = hs
    np.testing.assert_allclose(_run(g, x, batch=4), want, rtol=1e-4, atol=1e-5)


def test_mlp_with_residual_add_and_softmax():
    rng = np.random.default_rng(3)
    w1, w2 = rng.standard_normal((6, 6)).astype(np.float32), rng.standard_normal((6, 3)).astype(np.float32)
    nodes = [Node("d1", "dense", ["x"], ["a"], {}, {"W": w1}),
             Node("r", "relu", ["a"], ["b"]),
             Node("skip", "add", ["b", "x"], ["c"]),
             Node("d2", "dense", ["c"], ["d"], {}, {"W": w2}),
             Node("sm", "softmax", ["d"], ["y"], {"axis": -1})]
    g = _graph((6,), nodes, "y")
    x = rng.standard_normal((7, 6)).astype(np.float32)
    logits = (np.maximum(x @ w1, 0) + x) @ w2
    want = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(_run(g, x, batch=3), want, rtol=1e-5, atol=1e-6)


def test_data_that_does_not_fit_the_model_input_is_a_clear_error():
    g = _graph((6,), [Node("d1", "dense", ["x"], ["y"], {}, {"W": np.ones((6, 2), np.float32)})], "y")
    with pytest.raises(DataError, match=r"do not fit the model input 'x' of shape \(6,\)"):
        _run(g, np.ones((3, 5), np.float32))
    with pytest.raises(DataError, match="NaN"):
        _run(g, np.full((3, 6), np.nan, np.float32))
