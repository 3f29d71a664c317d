"""Build the bundled random-weight ONNX graphs of the chip paper's networks.

    python workloads/build_graphs.py            # writes both files next to this script

- cifar_resnet9/resnet9.onnx: ResNet-9 for 32x32x3 images with the weight-matrix shapes of
  Le Gallo et al., Nature Electronics 2023 (see workloads/cifar_resnet9/README.md).
- ptb_lstm/lstm.onnx: the paper's character LSTM (embedding 128, 504 hidden, 50 outputs) over
  a fixed sequence of 32 characters (see workloads/ptb_lstm/README.md).

Weights are random but reproducible (numpy Generator seeded with SEED): He-normal for convs and
dense layers, PyTorch's default U(-1/sqrt(H), 1/sqrt(H)) for the LSTM, and batch-norm statistics
drawn near identity, so folding them is not a no-op. Trained weights come later.
Only onnx.helper and numpy are needed (no PyTorch).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SEED = 0
OPSET = 17
IR_VERSION = 8  # the IR version that goes with opset 17
HERE = Path(__file__).resolve().parent

# (name, input channels, output channels) of the paper's eight 3x3 convolutions.
RESNET9_CONVS = [("conv0", 3, 56), ("conv1", 56, 112), ("conv2", 112, 112), ("conv3", 112, 112),
                 ("conv4", 112, 224), ("conv5", 224, 224), ("conv6", 224, 224),
                 ("conv7", 224, 224)]
# LSTM of the paper: embedding 128, 504 hidden units, 50 outputs; our choice of sequence length.
LSTM_VOCAB, LSTM_EMBED, LSTM_HIDDEN, LSTM_STEPS = 50, 128, 504, 32


def _he(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
    return (rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)).astype(np.float32)


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []

    def init(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], name: str, **attrs) -> str:
        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def conv_bn_relu(self, x: str, name: str, cin: int, cout: int) -> str:
        w = self.init(f"{name}.weight", _he(self.rng, (cout, cin, 3, 3), cin * 9))
        y = self.node("Conv", [x, w], name, kernel_shape=[3, 3], pads=[1, 1, 1, 1])
        bn = name.replace("conv", "bn")
        stats = [self.rng.uniform(0.8, 1.2, cout), self.rng.normal(0, 0.1, cout),
                 self.rng.normal(0, 0.1, cout), self.rng.uniform(0.8, 1.2, cout)]
        params = [self.init(f"{bn}.{k}", v.astype(np.float32))
                  for k, v in zip(("scale", "bias", "mean", "var"), stats)]
        y = self.node("BatchNormalization", [y] + params, bn, epsilon=1e-5)
        return self.node("Relu", [y], name.replace("conv", "relu"))

    def model(self, name: str, inputs, outputs, doc: str) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="chipsim workloads/build_graphs.py", doc_string=doc)
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model)
        return model


def resnet9(seed: int = SEED) -> onnx.ModelProto:
    """ResNet-9 for CIFAR-10: matrices 27x56, 504x112, 1008x112 x2, 1008x224, 2016x224 x3, 224x10."""
    b = _Builder(seed)
    convs = {name: (cin, cout) for name, cin, cout in RESNET9_CONVS}
    x = b.conv_bn_relu("image", "conv0", *convs["conv0"])
    x = b.conv_bn_relu(x, "conv1", *convs["conv1"])
    skip = b.node("MaxPool", [x], "pool1", kernel_shape=[2, 2], strides=[2, 2])
    x = b.conv_bn_relu(skip, "conv2", *convs["conv2"])
    x = b.conv_bn_relu(x, "conv3", *convs["conv3"])
    x = b.node("Add", [x, skip], "res1")
    x = b.conv_bn_relu(x, "conv4", *convs["conv4"])
    x = b.node("MaxPool", [x], "pool4", kernel_shape=[2, 2], strides=[2, 2])
    x = b.conv_bn_relu(x, "conv5", *convs["conv5"])
    skip = b.node("MaxPool", [x], "pool5", kernel_shape=[2, 2], strides=[2, 2])
    x = b.conv_bn_relu(skip, "conv6", *convs["conv6"])
    x = b.conv_bn_relu(x, "conv7", *convs["conv7"])
    x = b.node("Add", [x, skip], "res2")
    x = b.node("MaxPool", [x], "pool7", kernel_shape=[4, 4], strides=[4, 4])
    x = b.node("Flatten", [x], "flatten", axis=1)
    w = b.init("dense.weight", _he(b.rng, (224, 10), 224))
    bias = b.init("dense.bias", np.zeros(10, np.float32))
    b.node("Gemm", [x, w, bias], "dense")
    inputs = [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 32, 32])]
    outputs = [helper.make_tensor_value_info("dense", TensorProto.FLOAT, ["N", 10])]
    return b.model("cifar_resnet9", inputs, outputs,
                   "ResNet-9 of Le Gallo et al. 2023 (random He-init weights)")


def lstm(seed: int = SEED) -> onnx.ModelProto:
    """Character LSTM: ids (T, N) -> embedding 128 -> LSTM 504 -> dense 504x50 at every step."""
    b = _Builder(seed)
    h = LSTM_HIDDEN
    bound = 1.0 / math.sqrt(h)
    table = b.init("embedding.weight",
                   b.rng.standard_normal((LSTM_VOCAB, LSTM_EMBED)).astype(np.float32))
    x = b.node("Gather", [table, "chars"], "embedding", axis=0)
    w = b.init("lstm.W", b.rng.uniform(-bound, bound, (1, 4 * h, LSTM_EMBED)).astype(np.float32))
    r = b.init("lstm.R", b.rng.uniform(-bound, bound, (1, 4 * h, h)).astype(np.float32))
    bb = b.init("lstm.B", b.rng.uniform(-bound, bound, (1, 8 * h)).astype(np.float32))
    b.nodes.append(helper.make_node("LSTM", [x, w, r, bb], ["lstm"], name="lstm", hidden_size=h))
    axes = b.init("squeeze.axes", np.array([1], np.int64))
    y = b.node("Squeeze", ["lstm", axes], "squeeze")
    wd = b.init("dense.weight", _he(b.rng, (h, LSTM_VOCAB), h))
    bd = b.init("dense.bias", np.zeros(LSTM_VOCAB, np.float32))
    y = b.node("MatMul", [y, wd], "dense")
    b.node("Add", [y, bd], "logits")
    inputs = [helper.make_tensor_value_info("chars", TensorProto.INT64, [LSTM_STEPS, "N"])]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT,
                                             [LSTM_STEPS, "N", LSTM_VOCAB])]
    return b.model("ptb_lstm", inputs, outputs,
                   "Character LSTM of Le Gallo et al. 2023 (random weights)")


def main() -> None:
    for model, path in ((resnet9(), HERE / "cifar_resnet9" / "resnet9.onnx"),
                        (lstm(), HERE / "ptb_lstm" / "lstm.onnx")):
        path.parent.mkdir(parents=True, exist_ok=True)
        onnx.save(model, str(path))
        print(f"wrote {path.relative_to(HERE.parent)} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
