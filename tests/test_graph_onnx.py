"""ONNX import and lowering, op by op, on models built with onnx.helper."""

from __future__ import annotations

import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from chipsim.errors import GraphError
from chipsim.graph import conv_matrix, load_graph, lower

RNG = np.random.default_rng(0)


def _model(nodes, inputs, outputs, inits=(), opset=17):
    """inputs/outputs: (name, dims) with "N" for the batch; inits: name -> array."""
    graph = helper.make_graph(
        nodes, "t",
        [helper.make_tensor_value_info(n, TensorProto.INT64 if n == "ids" else TensorProto.FLOAT, d)
         for n, d in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, d) if d is not None
         else helper.make_empty_tensor_value_info(n) for n, d in outputs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in dict(inits).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return _typed_outputs(model)


def _typed_outputs(model):
    """Give untyped graph outputs the type ONNX shape inference finds for them."""
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type for v in inferred.graph.value_info}
    for out in model.graph.output:
        if not out.HasField("type") and out.name in types:
            out.type.CopyFrom(types[out.name])
    return model


def _load(tmp_path, model, fold=True, name="m.onnx"):
    path = tmp_path / name
    onnx.save(model, str(path))
    return load_graph(path, fold=fold)


def _f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _patches(x, kh, kw, strides, pads, dil):
    """im2col written out by loops: one row per output pixel, columns in (c, i, j) order."""
    c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh = (h + pads[0] + pads[2] - (kh - 1) * dil[0] - 1) // strides[0] + 1
    ow = (w + pads[1] + pads[3] - (kw - 1) * dil[1] - 1) // strides[1] + 1
    rows = []
    for p in range(oh):
        for q in range(ow):
            rows.append([xp[ch, p * strides[0] + i * dil[0], q * strides[1] + j * dil[1]]
                         for ch in range(c) for i in range(kh) for j in range(kw)])
    return np.array(rows), (oh, ow)


def _direct_conv(x, w, b, strides, pads, dil, group):
    cout, cin_g, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    _, (oh, ow) = _patches(x, kh, kw, strides, pads, dil)
    out = np.zeros((cout, oh, ow))
    og = cout // group
    for o in range(cout):
        g = o // og
        for p in range(oh):
            for q in range(ow):
                win = xp[g * cin_g:(g + 1) * cin_g,
                         p * strides[0]:p * strides[0] + (kh - 1) * dil[0] + 1:dil[0],
                         q * strides[1]:q * strides[1] + (kw - 1) * dil[1] + 1:dil[1]]
                out[o, p, q] = (win * w[o]).sum() + b[o]
    return out


@pytest.mark.parametrize("cin,cout,k,strides,pads,dil,group,auto_pad", [
    (3, 4, (3, 3), (1, 1), (0, 0, 0, 0), (1, 1), 1, None),
    (2, 6, (3, 2), (2, 1), (1, 0, 2, 1), (1, 1), 1, None),
    (4, 4, (3, 3), (1, 2), (2, 2, 2, 2), (2, 1), 2, None),
    (4, 4, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 4, None),  # depthwise
    (3, 5, (3, 3), (2, 2), None, (1, 1), 1, "SAME_UPPER"),
    (3, 5, (2, 2), (1, 1), None, (1, 1), 1, "SAME_LOWER"),
    (3, 5, (3, 3), (2, 2), None, (1, 1), 1, "VALID"),
])
def test_conv_lowering_matches_direct_convolution(tmp_path, cin, cout, k, strides, pads, dil,
                                                  group, auto_pad):
    w, b = _f32(cout, cin // group, *k), _f32(cout)
    attrs = {"strides": list(strides), "dilations": list(dil), "group": group}
    attrs |= {"auto_pad": auto_pad} if auto_pad else {"pads": list(pads)}
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv", **attrs)
    g = _load(tmp_path, _model([node], [("x", ["N", cin, 9, 8])], [("y", None)],
                               {"w": w, "b": b}))
    (layer,) = lower(g)
    pads = g.node("conv").attrs["pads"]
    x = _f32(cin, 9, 8)
    patches, (oh, ow) = _patches(x, *k, strides, pads, dil)
    assert (layer.op, layer.rows, layer.cols, layer.mvms) == ("conv", cin * k[0] * k[1], cout, oh * ow)
    assert g.shapes["y"] == (cout, oh, ow)
    got = (patches @ layer.weight + layer.bias).T.reshape(cout, oh, ow)
    np.testing.assert_allclose(got, _direct_conv(x, w, b, strides, pads, dil, group), atol=1e-4)
    if auto_pad == "SAME_UPPER":
        assert (oh, ow) == (5, 4)


def test_depthwise_conv_is_block_diagonal():
    w = _f32(6, 1, 3, 3)
    m = conv_matrix(w, groups=6)
    assert m.shape == (54, 6)
    for g in range(6):
        block = np.zeros_like(m)
        block[g * 9:(g + 1) * 9, g] = 1
        np.testing.assert_array_equal(m[block == 1], w[g].ravel())
    assert np.count_nonzero(m) == w.size


def _conv_bn(eps=1e-3):
    inits = {"w": _f32(4, 3, 3, 3), "b": _f32(4), "s": RNG.uniform(0.5, 2, 4).astype(np.float32),
             "beta": _f32(4), "mu": _f32(4), "var": RNG.uniform(0.5, 2, 4).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "s", "beta", "mu", "var"], ["y"],
                              name="bn", epsilon=eps)]
    return _model(nodes, [("x", ["N", 3, 6, 6])], [("y", None)], inits), inits


def test_batchnorm_folds_into_conv_with_equal_numbers(tmp_path):
    model, p = _conv_bn()
    g = _load(tmp_path, model)
    assert [n.op for n in g.nodes] == ["conv2d"]
    (layer,) = lower(g)
    x = _f32(3, 6, 6)
    patches, _ = _patches(x, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1))
    folded = patches @ layer.weight + layer.bias
    conv = _direct_conv(x, p["w"], p["b"], (1, 1), (1, 1, 1, 1), (1, 1), 1)
    bn = (p["s"][:, None, None] * (conv - p["mu"][:, None, None])
          / np.sqrt(p["var"][:, None, None] + 1e-3) + p["beta"][:, None, None])
    np.testing.assert_allclose(folded.T.reshape(4, 6, 6), bn, rtol=1e-4, atol=1e-4)


def test_batchnorm_kept_when_fold_is_off_or_illegal(tmp_path):
    model, _ = _conv_bn()
    assert [n.op for n in _load(tmp_path, model, fold=False).nodes] == ["conv2d", "batchnorm"]
    # conv output also read by a second node: folding would change that reader's input
    model.graph.node.append(helper.make_node("Relu", ["c"], ["r"], name="relu"))
    model.graph.output.append(helper.make_empty_tensor_value_info("r"))
    g = _load(tmp_path, _typed_outputs(model))
    assert [n.op for n in g.nodes] == ["conv2d", "batchnorm", "relu"]
    assert lower(g)[0].digital_ops == {"batchnorm": 144, "relu": 144}


def test_gemm_with_transposes_alpha_beta(tmp_path):
    w, c = _f32(5, 7), _f32(5)
    node = helper.make_node("Gemm", ["x", "w", "c"], ["y"], name="fc", transB=1, alpha=0.5, beta=2.0)
    g = _load(tmp_path, _model([node], [("x", ["N", 7])], [("y", None)], {"w": w, "c": c}))
    (layer,) = lower(g)
    x = _f32(7)
    np.testing.assert_allclose(x @ layer.weight + layer.bias, 0.5 * w @ x + 2 * c, rtol=1e-5)
    assert (layer.rows, layer.cols, layer.mvms, layer.sources) == (7, 5, 1, ())


def test_matmul_on_sequences_folds_bias_add(tmp_path):
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"], name="mm"),
             helper.make_node("Add", ["m", "b"], ["y"], name="add")]
    g = _load(tmp_path, _model(nodes, [("x", ["N", 6, 4])], [("y", None)],
                               {"w": _f32(4, 3), "b": _f32(3)}))
    (layer,) = lower(g)
    assert [n.op for n in g.nodes] == ["dense"] and layer.mvms == 6 and layer.bias is not None


def test_resnet_style_block_sources_and_digital_work(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w0"], ["a"], name="c0", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["a"], ["ra"], name="r0"),
             helper.make_node("MaxPool", ["ra"], ["p"], name="mp", kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Conv", ["p", "w1"], ["b"], name="c1", pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["b", "p"], ["s"], name="add"),
             helper.make_node("Sigmoid", ["s"], ["sg"], name="sig"),
             helper.make_node("GlobalAveragePool", ["sg"], ["gp"], name="gap"),
             helper.make_node("Flatten", ["gp"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "w2"], ["y"], name="fc"),
             helper.make_node("Softmax", ["y"], ["z"], name="sm")]
    inits = {"w0": _f32(4, 2, 3, 3), "w1": _f32(4, 4, 3, 3), "w2": _f32(4, 3)}
    g = _load(tmp_path, _model(nodes, [("x", ["N", 2, 8, 8])], [("z", None)], inits))
    layers = {l.name: l for l in lower(g)}
    assert layers["c1"].sources == ("c0",) and layers["fc"].sources == ("c0", "c1")
    assert layers["c0"].digital_ops == {"relu": 256, "maxpool": 256}
    assert layers["c1"].digital_ops == {"add": 64, "sigmoid": 64, "global_avgpool": 64}
    assert layers["fc"].digital_ops == {"softmax": 3} and g.shapes["z"] == (3,)


def test_torch_style_dynamic_flatten_is_folded(tmp_path):
    """x.view(x.size(0), -1) exports as Shape -> Gather -> Unsqueeze -> Concat -> Reshape."""
    nodes = [helper.make_node("Shape", ["x"], ["s"], name="shape"),
             helper.make_node("Constant", [], ["i0"], name="c0",
                              value=numpy_helper.from_array(np.array(0, np.int64))),
             helper.make_node("Gather", ["s", "i0"], ["n"], name="gather", axis=0),
             helper.make_node("Unsqueeze", ["n", "ax"], ["n1"], name="unsq"),
             helper.make_node("Concat", ["n1", "minus1"], ["tgt"], name="cat", axis=0),
             helper.make_node("Reshape", ["x", "tgt"], ["f"], name="reshape"),
             helper.make_node("MatMul", ["f", "w"], ["y"], name="fc")]
    inits = {"ax": np.array([0], np.int64), "minus1": np.array([-1], np.int64), "w": _f32(48, 2)}
    g = _load(tmp_path, _model(nodes, [("x", ["N", 3, 4, 4])], [("y", None)], inits))
    assert [n.op for n in g.nodes] == ["reshape", "dense"] and g.shapes["f"] == (48,)


@pytest.mark.parametrize("op,attrs,extra,expected", [
    ("MaxPool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}, [], (2, 4, 4)),
    ("MaxPool", {"kernel_shape": [2, 2], "strides": [2, 2], "ceil_mode": 1}, [], (2, 4, 4)),
    ("MaxPool", {"kernel_shape": [2, 2], "dilations": [2, 2]}, [], (2, 5, 5)),
    ("AveragePool", {"kernel_shape": [3, 3], "auto_pad": "SAME_UPPER", "strides": [2, 2]}, [], (2, 4, 4)),
    ("GlobalAveragePool", {}, [], (2, 1, 1)),
    ("LeakyRelu", {"alpha": 0.2}, [], (2, 7, 7)),
    ("Clip", {}, ["lo", "hi"], (2, 7, 7)),
    ("Tanh", {}, [], (2, 7, 7)),
    ("Transpose", {"perm": [0, 2, 3, 1]}, [], (7, 7, 2)),
    ("Concat", {"axis": 1}, ["x"], (4, 7, 7)),
    ("Mul", {}, ["k"], (2, 7, 7)),
])
def test_digital_ops_shapes(tmp_path, op, attrs, extra, expected):
    node = helper.make_node(op, ["x"] + extra, ["y"], name="n", **attrs)
    inits = {"lo": np.array(0, np.float32), "hi": np.array(6, np.float32), "k": _f32(2, 1, 1)}
    used = {k: v for k, v in inits.items() if k in extra}
    g = _load(tmp_path, _model([node], [("x", ["N", 2, 7, 7])], [("y", None)], used))
    assert g.shapes["y"] == expected
    if op == "Clip":
        assert g.node("n").attrs == {"min": 0.0, "max": 6.0}


def _lstm_model(h=5, d=3, t=4, layout=0, **attrs):
    w, r, b = _f32(1, 4 * h, d), _f32(1, 4 * h, h), _f32(1, 8 * h)
    node = helper.make_node("LSTM", ["x", "w", "r", "b"], ["y", "yh"], name="lstm",
                            hidden_size=h, layout=layout, **attrs)
    xdims = [t, "N", d] if layout == 0 else ["N", t, d]
    return _model([node], [("x", xdims)], [("y", None), ("yh", None)], {"w": w, "r": r, "b": b}), (w, r, b)


@pytest.mark.parametrize("layout", [0, 1])
def test_lstm_stacks_input_and_hidden_matrices(tmp_path, layout):
    model, (w, r, b) = _lstm_model(layout=layout)
    g = _load(tmp_path, model)
    (layer,) = lower(g)
    assert (layer.op, layer.rows, layer.cols, layer.mvms) == ("lstm", 3 + 5, 20, 4)
    assert layer.digital_ops == {"lstm_cell": 20}
    assert g.shapes["y"] == (4, 1, 5) and g.shapes["yh"] == (1, 5)
    assert g.batch_axes["y"] == (2 if layout == 0 else 0)
    x, hprev = _f32(3), _f32(5)
    onnx_gates = w[0] @ x + r[0] @ hprev + b[0, :20] + b[0, 20:]
    np.testing.assert_allclose(np.concatenate([x, hprev]) @ layer.weight + layer.bias, onnx_gates,
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("attrs,message", [
    ({"activations": ["Relu", "Tanh", "Tanh"]}, "activations ['Relu', 'Tanh', 'Tanh'] unsupported"),
    ({"clip": 3.0}, "cell clip and input_forget are unsupported"),
])
def test_lstm_unsupported_variants(tmp_path, attrs, message):
    model, _ = _lstm_model(**attrs)
    with pytest.raises(GraphError, match=r'm.onnx: node "lstm" \(LSTM\): ' + re.escape(message)):
        _load(tmp_path, model)


def test_lstm_peepholes_rejected(tmp_path):
    model, _ = _lstm_model()
    model.graph.node[0].input.extend(["", "", "", "p"])
    model.graph.initializer.append(numpy_helper.from_array(np.ones((1, 15), np.float32), "p"))
    with pytest.raises(GraphError, match="peephole weights P is unsupported"):
        _load(tmp_path, model)


def test_embedding_lookup(tmp_path):
    nodes = [helper.make_node("Gather", ["table", "ids"], ["e"], name="emb", axis=0),
             helper.make_node("MatMul", ["e", "w"], ["y"], name="fc")]
    g = _load(tmp_path, _model(nodes, [("ids", ["N", 6])], [("y", None)],
                               {"table": _f32(10, 4), "w": _f32(4, 2)}))
    (layer,) = lower(g)
    assert g.input_dtypes["ids"] == "int" and layer.mvms == 6
    assert layer.digital_ops == {"embedding": 24}
