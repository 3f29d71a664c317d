"""The ONNX ops of transformer encoders and GRUs, each on a tiny graph, against ONNX's own
numpy reference evaluator (no onnxruntime, no torch)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper
from onnx.reference import ReferenceEvaluator

from chipsim.errors import GraphError
from chipsim.graph import load_graph, lower
from chipsim.functional.executor import FloatBackend, run_network
from test_graph_errors import _save
from test_graph_onnx import _model

RNG = np.random.default_rng(7)


def _f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _check(tmp_path, model, x, atol=1e-5):
    """chipsim's float path equals the reference evaluator on `x` (batch first)."""
    path = _save(tmp_path, model)
    graph = load_graph(path)
    want = ReferenceEvaluator(model).run(None, {"x": x})[0]
    got = run_network(graph, FloatBackend(lower(graph)), x)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=atol)
    return graph


def _const(name, value):
    return helper.make_node("Constant", [], [name], value=helper.make_tensor(
        name, 7 if np.asarray(value).dtype.kind == "i" else 1, np.shape(value),
        np.ravel(value).tolist()))


def test_decomposed_layer_norm(tmp_path):
    n = helper.make_node
    nodes = [n("ReduceMean", ["x"], ["m"], axes=[-1]), n("Sub", ["x", "m"], ["d"]),
             n("Pow", ["d", "two"], ["d2"]), n("ReduceMean", ["d2"], ["v"], axes=[-1]),
             n("Add", ["v", "eps"], ["ve"]), n("Sqrt", ["ve"], ["s"]),
             n("Div", ["d", "s"], ["q"]), n("Mul", ["q", "g"], ["qg"]),
             n("Add", ["qg", "b"], ["y"])]
    inits = {"two": np.float32(2.0), "eps": np.float32(1e-5), "g": _f32(6), "b": _f32(6)}
    model = _model(nodes, [("x", ["N", 4, 6])], [("y", None)], inits, opset=13)
    graph = _check(tmp_path, model, _f32(3, 4, 6))
    assert {"reduce_mean", "sub", "pow", "sqrt", "div"} <= {node.op for node in graph.nodes}


def test_layer_normalization_and_softmax_on_a_middle_axis(tmp_path):
    nodes = [helper.make_node("LayerNormalization", ["x", "g", "b"], ["l"], axis=-1, epsilon=1e-5),
             helper.make_node("Softmax", ["l"], ["y"], axis=1)]
    model = _model(nodes, [("x", ["N", 4, 6])], [("y", None)], {"g": _f32(6), "b": _f32(6)})
    _check(tmp_path, model, _f32(3, 4, 6))


def _attention_nodes():
    """Attention as the legacy exporter writes it: the batch merged with the heads.

    x (N, T=6, D=8) -> (T, N, D) -> (T, N*2, 4) (target shape from Shape arithmetic, with Mod
    and Where) -> (N*2, T, 4); softmax(q q^T) q; back to (N, T, D)."""
    n = helper.make_node
    return [
        n("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
        n("Shape", ["xt"], ["shp"]),
        _const("i1", np.array(1, np.int64)), _const("i2", np.array(2, np.int64)),
        _const("heads", np.array(2, np.int64)),
        n("Gather", ["shp", "i1"], ["batch"], axis=0),
        n("Gather", ["shp", "i2"], ["dim"], axis=0),
        n("Mul", ["batch", "heads"], ["bh"]),
        n("Div", ["dim", "heads"], ["hd"]),
        n("Mod", ["dim", "heads"], ["rem"]),
        _const("zero", np.array(0, np.int64)),
        n("Equal", ["rem", "zero"], ["even"]),
        n("Where", ["even", "hd", "dim"], ["hd2"]),
        _const("ax0", np.array([0], np.int64)),
        n("Unsqueeze", ["bh", "ax0"], ["bh1"]), n("Unsqueeze", ["hd2", "ax0"], ["hd1"]),
        _const("t", np.array([6], np.int64)),
        n("Concat", ["t", "bh1", "hd1"], ["target"], axis=0),
        n("Cast", ["target"], ["target64"], to=7),
        n("Reshape", ["xt", "target64"], ["split"]),
        n("Transpose", ["split"], ["q"], perm=[1, 0, 2]),
        n("Transpose", ["q"], ["kt"], perm=[0, 2, 1]),
        n("MatMul", ["q", "kt"], ["scores"]),
        n("Softmax", ["scores"], ["p"], axis=-1),
        n("MatMul", ["p", "q"], ["o"]),
        n("Transpose", ["o"], ["ot"], perm=[1, 0, 2]),
        _const("back", np.array([6, -1, 8], np.int64)),
        n("Reshape", ["ot", "back"], ["merged"]),
        n("Transpose", ["merged"], ["y"], perm=[1, 0, 2]),
    ]


def test_attention_with_the_batch_merged_into_the_heads(tmp_path):
    model = _model(_attention_nodes(), [("x", ["N", 6, 8])], [("y", None)], opset=13)
    graph = _check(tmp_path, model, _f32(3, 6, 8))
    matmuls = [node for node in graph.nodes if node.op == "matmul"]
    assert [graph.shapes[m.outputs[0]] for m in matmuls] == [(2, 6, 6), (2, 6, 4)]
    assert lower(graph) == []  # all digital: no crossbar holds an activation


def test_gelu_by_erf_slice_split_gather_and_reductions(tmp_path):
    n = helper.make_node
    nodes = [n("Div", ["x", "r2"], ["xs"]), n("Erf", ["xs"], ["e"]), n("Add", ["e", "one"], ["e1"]),
             n("Mul", ["x", "e1"], ["xe"]), n("Mul", ["xe", "half"], ["gelu"]),
             n("Slice", ["gelu", "st", "en", "ax", "sp"], ["sl"]),       # (N, 4, 3)
             n("Split", ["sl", "parts"], ["a", "b"], axis=1),          # (N, 1, 3), (N, 3, 3)
             n("ReduceSum", ["b", "ax1"], ["bs"], keepdims=0),          # (N, 3)
             n("Gather", ["a", "i0"], ["a0"], axis=1),                  # (N, 3)
             n("Neg", ["a0"], ["na"]), n("Exp", ["na"], ["ea"]),
             n("Reciprocal", ["ea"], ["ra"]), n("Abs", ["bs"], ["ab"]), n("Sqrt", ["ab"], ["sq"]),
             n("Sub", ["ra", "sq"], ["y0"]), n("Sub", ["one", "y0"], ["y"])]
    inits = {"r2": np.float32(np.sqrt(2)), "one": np.float32(1), "half": np.float32(0.5),
             "st": np.array([0, 1], np.int64), "en": np.array([4, 6], np.int64),
             "ax": np.array([1, 2], np.int64), "sp": np.array([1, 2], np.int64),
             "parts": np.array([1, 3], np.int64), "ax1": np.array([1], np.int64),
             "i0": np.array(0, np.int64)}
    model = _model(nodes, [("x", ["N", 5, 6])], [("y", None)], inits, opset=13)
    graph = _check(tmp_path, model, _f32(3, 5, 6))
    assert graph.shapes[graph.outputs[0]] == (3,)


def _gru_model(linear_before_reset=1, hidden=5, layout_batch_first=False):
    d = 3
    nodes = [helper.make_node("GRU", ["xt", "W", "R", "B"], ["Y", "Yh"], name="gru",
                              hidden_size=hidden, linear_before_reset=linear_before_reset),
             helper.make_node("Squeeze", ["Y", "one"], ["ys"]),
             helper.make_node("Transpose", ["ys"], ["y"], perm=[1, 0, 2])]
    nodes.insert(0, helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]))
    inits = {"W": _f32(1, 3 * hidden, d), "R": _f32(1, 3 * hidden, hidden),
             "B": _f32(1, 6 * hidden), "one": np.array([1], np.int64)}
    return _model(nodes, [("x", ["N", 4, d])], [("y", None)], inits)


def test_gru_is_one_array_of_four_gate_blocks(tmp_path):
    graph = _check(tmp_path, _gru_model(), _f32(3, 4, 3))
    (layer,) = lower(graph)
    assert (layer.op, layer.rows, layer.cols, layer.mvms) == ("gru", 3 + 5, 4 * 5, 4)
    assert layer.digital_ops == {"gru_cell": 4 * 5}


def test_gru_without_linear_before_reset_names_the_node(tmp_path):
    with pytest.raises(GraphError, match=r'node "gru" \(GRU\): linear_before_reset=0 is '
                                         r'unsupported'):
        load_graph(_save(tmp_path, _gru_model(linear_before_reset=0)))


def test_reshape_that_splits_the_batch_is_refused(tmp_path):
    node = helper.make_node("Reshape", ["x", "t"], ["y"], name="rs")
    model = _model([node], [("x", [4, 6])], [("y", None)], {"t": np.array([2, 12], np.int64)})
    with pytest.raises(GraphError, match=r'node "rs" \(Reshape\): reshape of .* would move the '
                                         r'batch dimension \(or split it\)'):
        load_graph(_save(tmp_path, model))


def test_matmul_of_activations_with_the_batch_in_the_matrix_axes_is_refused(tmp_path):
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 2, 0]),
             helper.make_node("MatMul", ["xt", "x"], ["y"], name="mm")]
    model = _model(nodes, [("x", ["N", 6, 6])], [("y", None)])
    with pytest.raises(GraphError, match=r'node "mm" \(MatMul\): a product of two activations'):
        load_graph(_save(tmp_path, model))


@pytest.mark.parametrize("op,gates", [("GRU", 3), ("LSTM", 4)])
@pytest.mark.parametrize("direction", ["reverse", "bidirectional"])
def test_recurrent_directions(tmp_path, op, gates, direction):
    dirs, hidden, d = 1 + (direction == "bidirectional"), 5, 3
    extra = {"linear_before_reset": 1} if op == "GRU" else {}
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
             helper.make_node(op, ["xt", "W", "R", "B"], ["Y"], name="rnn", hidden_size=hidden,
                              direction=direction, **extra),
             helper.make_node("Transpose", ["Y"], ["yt"], perm=[2, 0, 1, 3]),
             helper.make_node("Reshape", ["yt", "shape"], ["y"])]
    bias = 2 * gates * hidden
    inits = {"W": _f32(dirs, gates * hidden, d), "R": _f32(dirs, gates * hidden, hidden),
             "B": _f32(dirs, bias), "shape": np.array([0, 0, -1], np.int64)}
    model = _model(nodes, [("x", ["N", 4, d])], [("y", None)], inits)
    graph = _check(tmp_path, model, _f32(3, 4, d))
    layers = lower(graph)
    assert [l.reverse for l in layers] == ([True] if dirs == 1 else [False, True])


def test_gather_nd_and_masked_fill_of_adaptive_pooling(tmp_path):
    """The dynamo exporter's adaptive average pooling: windows gathered by GatherND, padding
    masked by Where, then summed and divided."""
    n = helper.make_node
    idx = np.stack(np.meshgrid(np.arange(3), np.array([0, 2, 3]), indexing="ij"), axis=-1)
    nodes = [n("Transpose", ["x"], ["xt"], perm=[2, 3, 0, 1]),           # (H, W, N, C)
             n("GatherND", ["xt", "idx"], ["g"]),                          # (3, 3, N, C)
             n("Transpose", ["g"], ["gt"], perm=[2, 3, 0, 1]),            # (N, C, 3, 3)
             n("Where", ["mask", "minus", "gt"], ["m"]),
             n("Where", ["mask2", "gt", "zero"], ["m2"]),
             n("Add", ["m", "m2"], ["y"])]
    inits = {"idx": idx.astype(np.int64), "mask": np.array([[True, False, False]] * 3),
             "minus": np.float32(-np.inf), "mask2": np.array([[True], [False], [True]]),
             "zero": np.float32(0)}
    model = _model(nodes, [("x", ["N", 2, 4, 5])], [("y", None)], inits, opset=13)
    graph = _check(tmp_path, model, _f32(3, 2, 4, 5))
    assert graph.shapes[graph.outputs[0]] == (2, 3, 3)


@pytest.mark.parametrize("pool", ["MaxPool", "AveragePool"])
def test_one_dimensional_convolution_and_pooling(tmp_path, pool):
    n = helper.make_node
    nodes = [n("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 2], strides=[2],
               dilations=[2]),
             n(pool, ["c"], ["p"], kernel_shape=[2], strides=[2]),
             n("GlobalAveragePool", ["p"], ["g"]), n("Add", ["g", "p"], ["y"])]
    inits = {"w": _f32(4, 3, 3), "b": _f32(4)}
    model = _model(nodes, [("x", ["N", 3, 17])], [("y", None)], inits)
    graph = _check(tmp_path, model, _f32(3, 3, 17))
    (layer,) = lower(graph)
    assert (layer.name, layer.op, layer.rows, layer.cols, layer.mvms) == ("conv", "conv", 9, 4, 8)
