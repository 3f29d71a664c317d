"""Every way a graph file can be wrong ends in a GraphError that names the file and the node."""

from __future__ import annotations


import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import helper, numpy_helper

from chipsim.errors import GraphError
from chipsim.graph import load_graph, lower

from test_graph_onnx import _model


def _small_cnn():
    rng = np.random.default_rng(1)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1], strides=[1, 1]),
             helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["n"], name="bn"),
             helper.make_node("Relu", ["n"], ["r"], name="relu"),
             helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Flatten", ["p"], ["f"], name="flat", axis=1),
             helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], name="fc", transB=1)]
    inits = {"w": rng.standard_normal((4, 2, 3, 3)).astype(np.float32),
             "s": np.ones(4, np.float32), "b": np.zeros(4, np.float32),
             "m": np.zeros(4, np.float32), "v": np.ones(4, np.float32),
             "fw": rng.standard_normal((3, 64)).astype(np.float32),
             "fb": np.zeros(3, np.float32)}
    return _model(nodes, [("x", ["N", 2, 8, 8])], [("y", ["N", 3])], inits)


def _save(tmp_path, model, name="model.onnx"):
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def test_unsupported_op_names_node_type_and_supported_list(tmp_path):
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="Conv_3")
    model = _model([node], [("x", ["N", 2, 4, 4])], [("y", None)],
                   {"w": np.ones((2, 2, 3, 3), np.float32)})
    with pytest.raises(GraphError) as err:
        load_graph(_save(tmp_path, model))
    msg = str(err.value)
    assert msg.startswith('model.onnx: node "Conv_3" (ConvTranspose): unsupported op; supported: ')
    assert "Conv, " in msg and "LSTM" in msg


@pytest.mark.parametrize("content,message", [
    (b"\x08\x07garbage\xff\xff\xff", r"model.onnx: (not a readable ONNX file|invalid ONNX model)"),
    (b"", r"model.onnx: invalid ONNX model"),
])
def test_malformed_onnx_bytes(tmp_path, content, message):
    path = tmp_path / "model.onnx"
    path.write_bytes(content)
    with pytest.raises(GraphError, match=message):
        load_graph(path)


def test_missing_file_and_unknown_suffix(tmp_path):
    with pytest.raises(GraphError, match="no such file"):
        load_graph(tmp_path / "absent.onnx")
    with pytest.raises(GraphError, match=r"unknown graph file type '.pt'; supported: .onnx, .yaml"):
        load_graph(tmp_path / "net.pt")


@pytest.mark.parametrize("nodes,inits,message", [
    ([helper.make_node("MatMul", ["m", "x"], ["y"], name="mm"),],
     {"m": np.ones((4, 4), np.float32)},
     r'node "mm" \(MatMul\): only activation x constant-matrix products are supported'),
    ([helper.make_node("Conv", ["x", "wx"], ["y"], name="cv", kernel_shape=[1, 1])],
     {}, r'node "cv" \(Conv\): the weight W \(\'wx\'\) must be a constant'),
    ([helper.make_node("Reshape", ["x", "t"], ["y"], name="rs")],
     {"t": np.array([4, -1], np.int64)}, r'node "rs" \(Reshape\): reshape of .* would move the batch'),
    ([helper.make_node("Softmax", ["x"], ["y"], name="sm", axis=0)],
     {}, r'node "sm" \(Softmax\): cannot operate along the batch axis'),
    ([helper.make_node("MaxPool", ["x"], ["y"], name="mp", kernel_shape=[5, 5])],
     {}, r'node "mp" \(MaxPool\): window of 5 does not fit input of 4'),
])
def test_unsupported_uses_name_the_node(tmp_path, nodes, inits, message):
    inputs = [("x", ["N", 2, 4, 4])]
    if any("wx" in n.input for n in nodes):
        inputs.append(("wx", [2, 2, 1, 1]))
    model = _model(nodes, inputs, [("y", None)], inits)
    with pytest.raises(GraphError, match=message):
        load_graph(_save(tmp_path, model))


def test_input_with_two_dynamic_dims(tmp_path):
    node = helper.make_node("Relu", ["x"], ["y"], name="r")
    model = _model([node], [("x", ["N", "M", 4])], [("y", None)])
    with pytest.raises(GraphError, match=r"graph input 'x': expected exactly one batch dimension"):
        load_graph(_save(tmp_path, model))


def test_conv_group_mismatch_caught_by_checker_or_importer(tmp_path):
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="cv", group=3)
    model = _model([node], [("x", ["N", 4, 5, 5])], [("y", None)], {"w": np.ones((6, 2, 3, 3), np.float32)})
    with pytest.raises(GraphError, match=r"model.onnx: (invalid ONNX model|node \"cv\")"):
        load_graph(_save(tmp_path, model))


# -- mutated protobufs ----------------------------------------------------------------------
BASE = _small_cnn().SerializeToString()
OPS = ["Conv", "Relu", "Gemm", "MatMul", "Add", "LSTM", "MaxPool", "Softmax", "Foo", "Flatten",
       "Identity", "Reshape", "Concat", "Transpose"]


def _mutate_model(data, model):
    kind = data.draw(st.sampled_from(["op", "attr", "dim", "drop_input", "drop_node", "init"]))
    graph = model.graph
    if kind == "op":
        graph.node[data.draw(st.integers(0, len(graph.node) - 1))].op_type = data.draw(st.sampled_from(OPS))
    elif kind == "attr":
        node = graph.node[data.draw(st.integers(0, len(graph.node) - 1))]
        name = data.draw(st.sampled_from(["kernel_shape", "strides", "pads", "dilations", "group",
                                          "axis", "transB", "epsilon", "auto_pad"]))
        value = data.draw(st.one_of(st.integers(-3, 5), st.lists(st.integers(-2, 5), max_size=5),
                                    st.floats(-2, 2), st.sampled_from(["SAME_UPPER", "VALID", "x"])))
        del_idx = [i for i, a in enumerate(node.attribute) if a.name == name]
        for i in reversed(del_idx):
            del node.attribute[i]
        node.attribute.append(helper.make_attribute(
            name, value, attr_type=onnx.AttributeProto.INTS if value == [] else None))
    elif kind == "dim":
        vi = data.draw(st.sampled_from(list(graph.input) + list(graph.output)))
        dims = vi.type.tensor_type.shape.dim
        if dims:
            d = dims[data.draw(st.integers(0, len(dims) - 1))]
            d.dim_value = data.draw(st.integers(0, 40))
    elif kind == "drop_input":
        node = graph.node[data.draw(st.integers(0, len(graph.node) - 1))]
        if node.input:
            del node.input[data.draw(st.integers(0, len(node.input) - 1))]
    elif kind == "drop_node":
        del graph.node[data.draw(st.integers(0, len(graph.node) - 1))]
    else:
        init = graph.initializer[data.draw(st.integers(0, len(graph.initializer) - 1))]
        arr = numpy_helper.to_array(init)
        with np.errstate(invalid="ignore"):
            choices = [arr.reshape(-1), arr[:1], np.full_like(arr, np.nan), arr.astype(np.int64)]
        new = data.draw(st.sampled_from(choices))
        init.CopyFrom(numpy_helper.from_array(new, init.name))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_protobufs_give_ir_or_graph_error(tmp_path, data):
    if data.draw(st.booleans()):
        raw = bytearray(BASE)
        for _ in range(data.draw(st.integers(1, 6))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
        if data.draw(st.booleans()):
            raw = raw[:data.draw(st.integers(0, len(raw)))]
        content = bytes(raw)
    else:
        model = onnx.ModelProto()
        model.ParseFromString(BASE)
        for _ in range(data.draw(st.integers(1, 3))):
            if model.graph.node:
                _mutate_model(data, model)
        content = model.SerializeToString()
    path = tmp_path / "fuzz.onnx"
    path.write_bytes(content)
    try:
        graph = load_graph(path)
    except GraphError as err:
        assert str(err).startswith("fuzz.onnx") or str(err).startswith(str(path))
        return
    for layer in lower(graph):
        assert layer.weight.shape == (layer.rows, layer.cols) and layer.mvms >= 1


def test_every_failing_node_is_listed_at_once(tmp_path):
    n = helper.make_node
    nodes = [n("Hardmax", ["x"], ["h"], name="hm"),          # unknown op
             n("Relu", ["h"], ["r"], name="after_hm"),        # reads a lost tensor: not listed
             n("Celu", ["r"], ["c"], name="celu"),            # unknown op after a lost one: listed
             n("Softmax", ["x"], ["s"], name="sm", axis=0),   # known op, unsupported use
             n("Add", ["c", "s"], ["y"], name="sum")]
    model = _model(nodes, [("x", ["N", 2, 4, 4])], [("y", None)])
    with pytest.raises(GraphError) as err:
        load_graph(_save(tmp_path, model))
    msg = str(err.value)
    assert msg.startswith("model.onnx: 3 nodes cannot be imported: "
                          'node "hm" (Hardmax): unsupported op; '
                          'node "celu" (Celu): unsupported op; '
                          'node "sm" (Softmax): cannot operate along the batch axis')
    assert "after_hm" not in msg and '"sum"' not in msg
    assert "\n" not in msg and msg.count("; supported: ") == 1


def test_the_listing_is_capped(tmp_path):
    nodes = [helper.make_node("Hardmax", ["x"], [f"h{i}"], name=f"hm{i}") for i in range(25)]
    nodes.append(helper.make_node("Sum", [f"h{i}" for i in range(25)], ["y"], name="total"))
    model = _model(nodes, [("x", ["N", 4])], [("y", None)])
    with pytest.raises(GraphError) as err:
        load_graph(_save(tmp_path, model))
    msg = str(err.value)
    assert msg.startswith("model.onnx: 26 nodes cannot be imported: ")
    assert 'node "hm19" (Hardmax)' in msg and 'node "hm20"' not in msg
    assert "; ... and 6 more; supported: " in msg


def test_cli_prints_the_listing_on_one_line(tmp_path, capsys):
    from chipsim.cli import main

    nodes = [helper.make_node("Hardmax", ["x"], ["a"], name="one"),
             helper.make_node("Hardmax", ["x"], ["b"], name="two"),
             helper.make_node("Add", ["a", "b"], ["y"], name="sum")]
    path = _save(tmp_path, _model(nodes, [("x", ["N", 4])], [("y", None)]))
    assert main(["map", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and '"one" (Hardmax)' in err and '"two" (Hardmax)' in err


def test_each_hint_is_said_once(tmp_path):
    nodes = [helper.make_node("Floor", ["x"], ["a"], name="f1"),   # folded on constants only
             helper.make_node("Floor", ["x"], ["b"], name="f2"),
             helper.make_node("Hardmax", ["x"], ["c"], name="hm"),
             helper.make_node("Sum", ["a", "b", "c"], ["y"], name="total")]
    model = _model(nodes, [("x", ["N", 4])], [("y", None)])
    with pytest.raises(GraphError) as err:
        load_graph(_save(tmp_path, model))
    msg = str(err.value)
    assert msg.startswith('model.onnx: 4 nodes cannot be imported: node "f1" (Floor): Floor of an '
                          "activation ('x') is unsupported: chipsim folds Floor at import, on "
                          'constants only; node "f2" (Floor): ')
    assert msg.count("; ops on activations: ") == 1 and msg.count("; supported: ") == 1
