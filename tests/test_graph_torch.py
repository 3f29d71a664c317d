"""What PyTorch's ONNX exporter (legacy, opset 17) writes imports as expected (skipped without torch)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from chipsim.graph import load_graph, lower  # noqa: E402


def _export(tmp_path, model, example, dynamic=True, name="m.onnx"):
    torch.manual_seed(0)
    model.eval()
    path = tmp_path / name
    axes = {"x": {0: "batch"}, "y": {0: "batch"}} if dynamic else None
    torch.onnx.export(model, example, str(path), dynamo=False, opset_version=17,
                      input_names=["x"], output_names=["y"], dynamic_axes=axes)
    return load_graph(path)


class _Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.c0 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn0 = nn.BatchNorm2d(8)
        self.dw = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8)
        self.bn1 = nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 8, 3, padding=2, dilation=2)
        self.fc = nn.Linear(8 * 4 * 4, 5)

    def forward(self, x):
        x = torch.relu(self.bn0(self.c0(x)))
        x = nn.functional.relu6(self.bn1(self.dw(x)))
        x = nn.functional.max_pool2d(x + nn.functional.leaky_relu(self.c2(x), 0.1), 2)
        return torch.softmax(self.fc(x.view(x.size(0), -1)), dim=1)


@pytest.mark.parametrize("dynamic", [True, False])
def test_torch_cnn_with_bn_depthwise_residual_and_view(tmp_path, dynamic):
    model = _Cnn()
    with torch.no_grad():  # non-trivial batch-norm statistics, so folding matters
        for bn in (model.bn0, model.bn1):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 1.5)
    g = _export(tmp_path, model, torch.zeros(2, 3, 16, 16), dynamic)
    layers = {l.name.split("/")[1]: l for l in lower(g)}
    assert {k: (l.rows, l.cols, l.mvms, l.groups) for k, l in layers.items()} == {
        "c0": (27, 8, 256, 1), "dw": (72, 8, 64, 8), "c2": (72, 8, 64, 1), "fc": (128, 5, 1, 1)}
    assert not any(n.op == "batchnorm" for n in g.nodes)
    assert g.outputs and g.shapes[g.outputs[0]] == (5,)
    # the folded first conv reproduces conv + batch norm of torch
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        want = model.bn0(model.c0(x))[0, :, 5, 7].numpy()
    patch = nn.functional.unfold(x, 3, padding=1)[0, :, 5 * 16 + 7].numpy()
    np.testing.assert_allclose(patch @ layers["c0"].weight + layers["c0"].bias, want,
                               rtol=1e-4, atol=1e-4)


class _Seq(nn.Module):
    def __init__(self, batch_first):
        super().__init__()
        self.emb = nn.Embedding(20, 6)
        self.rnn = nn.LSTM(6, 10, batch_first=batch_first)
        self.out = nn.Linear(10, 20)

    def forward(self, x):
        y, _ = self.rnn(self.emb(x))
        return self.out(y)


@pytest.mark.parametrize("batch_first", [False, True])
def test_torch_embedding_lstm_linear(tmp_path, batch_first):
    example = torch.zeros((3, 7) if batch_first else (7, 3), dtype=torch.long)
    path = tmp_path / "seq.onnx"
    axis = 0 if batch_first else 1
    torch.onnx.export(_Seq(batch_first).eval(), example, str(path), dynamo=False, opset_version=17,
                      input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {axis: "batch"}, "y": {axis: "batch"}})
    g = load_graph(path)
    rnn, out = lower(g)
    assert (rnn.op, rnn.rows, rnn.cols, rnn.mvms) == ("lstm", 16, 40, 7)
    assert (out.rows, out.cols, out.mvms, out.sources) == (10, 20, 7, (rnn.name,))
    assert g.shapes[g.outputs[0]] == (7, 20) and g.batch_axes[g.outputs[0]] == axis


@pytest.mark.parametrize("net,exporter", [
    ("transformer", "legacy"), ("transformer", "legacy14"), ("transformer", "dynamo"),
    ("transformer_linear", "legacy"), ("transformer_linear", "dynamo"),
    ("gru", "legacy"), ("gru", "dynamo"), ("transformer", "static1"), ("gru", "static1"),
    ("bilstm", "legacy"), ("bilstm", "dynamo"), ("bigru", "legacy"), ("bigru", "dynamo"),
    ("bilstm", "static1"), ("pooled", "dynamo"), ("conv1d", "legacy"), ("conv1d", "dynamo")])
def test_exported_networks_compute_what_torch_computes(tmp_path, net, exporter):
    """Both exporters; opset 14 writes layer norms decomposed (ReduceMean, Sub, Pow, Sqrt, Div);
    "static1" exports a fixed batch of one, where any axis could hold the batch."""
    if exporter == "dynamo":
        pytest.importorskip("onnxscript", reason="the dynamo exporter needs onnxscript")
    from torch_networks import BATCH_AXIS, build, export

    from chipsim.functional.executor import FloatBackend, run_network, synthetic_inputs

    path = export(net, tmp_path / f"{net}.onnx", exporter == "dynamo",
                  opset=14 if exporter == "legacy14" else 17,
                  batch=1 if exporter == "static1" else None)
    g = load_graph(path)
    if exporter == "legacy14":
        assert {"reduce_mean", "sub", "pow", "sqrt", "div"} <= {n.op for n in g.nodes}
    model, _ = build(net)
    x = synthetic_inputs(g, 5, seed=3)
    if g.input_dtypes[next(iter(g.inputs))] == "float":
        x = (x - 0.5) * 4  # both signs, beyond GELU's and the gates' linear ranges
    x_torch = torch.from_numpy(x).transpose(0, 1) if BATCH_AXIS.get(net) == 1 else torch.from_numpy(x)
    with torch.no_grad():
        want = model(x_torch).numpy()
    got = run_network(g, FloatBackend(lower(g)), x)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
