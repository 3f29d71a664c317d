"""Small PyTorch networks of the kinds users bring (a transformer encoder, a GRU, ResNet-18 and
MobileNetV2 at small widths), and their export with both of PyTorch's ONNX exporters.

`python tests/torch_networks.py` (needs torch and, for the dynamo exporter, onnxscript) writes
the files of tests/data/ that the suite reads without torch; the torch tests rebuild the same
networks from the same seed and compare chipsim with PyTorch's own outputs.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from chipsim import zoo

DATA = Path(__file__).parent / "data"
SEQ, VOCAB, FEATURES = 8, 16, 8


class Encoder(nn.Module):
    """Token classifier: embedding + learned positions, 2 encoder layers of 4 heads, d = 32."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(VOCAB, 32)
        self.pos = nn.Parameter(torch.randn(1, SEQ, 32) * 0.1)
        layer = nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, dropout=0.0,
                                           batch_first=True, activation="gelu")
        self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(32, 4)

    def forward(self, x):
        return self.head(self.enc(self.emb(x) + self.pos).mean(dim=1))


class LinearEncoder(nn.Module):
    """The same encoder on real-valued inputs (a linear input layer instead of the embedding)."""

    def __init__(self) -> None:
        super().__init__()
        self.inp = nn.Linear(FEATURES, 32)
        layer = nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, dropout=0.0,
                                           batch_first=True, activation="gelu")
        self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(32, 4)

    def forward(self, x):
        return self.head(self.enc(self.inp(x)).mean(dim=1))


class Gru(nn.Module):
    """Two GRU layers of 16 units over a sequence of 8 features; a classifier on the last step."""

    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(FEATURES, 16, num_layers=2, batch_first=True)
        self.head = nn.Linear(16, 4)

    def forward(self, x):
        y, _ = self.gru(x)
        return self.head(y[:, -1])


class BiLstm(nn.Module):
    """Two bidirectional LSTM layers of 12 units, sequence first; a classifier on the last step."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(FEATURES, 12, num_layers=2, bidirectional=True)
        self.head = nn.Linear(24, 4)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.head(y[-1])


class BiGru(nn.Module):
    """A bidirectional GRU layer of 12 units, batch first, on every step."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.GRU(FEATURES, 12, bidirectional=True, batch_first=True)
        self.head = nn.Linear(24, 4)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.head(y)


class Pooled(nn.Module):
    """Conv, adaptive average pooling to 3 x 3 of an 8 x 8 map (windows of unequal size, which
    the dynamo exporter writes as GatherND and Where), classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(3)
        self.fc = nn.Linear(36, 4)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.conv(x)), 1))


class Conv1d(nn.Module):
    """1-D convolution and pooling over a sequence of FEATURES channels."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(FEATURES, 6, 3, padding=1, stride=2)
        self.pool = nn.MaxPool1d(2)
        self.fc = nn.Linear(6 * 8, 4)

    def forward(self, x):
        return self.fc(torch.flatten(torch.relu(self.pool(self.conv(x))), 1))


NETWORKS = {"transformer": Encoder, "transformer_linear": LinearEncoder, "gru": Gru,
            "bilstm": BiLstm, "bigru": BiGru, "pooled": Pooled, "conv1d": Conv1d,
            # small versions of the papers' ImageNet networks (chipsim.zoo), on 32 x 32 images
            "resnet18": lambda: zoo.resnet18(10, width=0.0625),
            "mobilenet_v2": lambda: zoo.mobilenet_v2(10, width=0.1)}
#: networks whose example input is an image of 3 x 32 x 32
IMAGES = ("resnet18", "mobilenet_v2")
#: the batch axis of each network's input (and of its output where that is a sequence)
BATCH_AXIS = {"bilstm": 1}


def build(name: str) -> tuple[nn.Module, torch.Tensor]:
    """The network `name` (seeded, eval mode) and an example input of batch 2."""
    torch.manual_seed(0)
    model = NETWORKS[name]().eval()
    gen = torch.Generator().manual_seed(1)
    if name == "transformer":
        return model, torch.randint(0, VOCAB, (2, SEQ), generator=gen)
    if name in IMAGES:
        return model, torch.randn(2, 3, 32, 32, generator=gen)
    if name == "pooled":
        return model, torch.randn(2, 3, 8, 8, generator=gen)
    if name == "conv1d":
        return model, torch.randn(2, FEATURES, 4 * SEQ, generator=gen)
    if BATCH_AXIS.get(name) == 1:
        return model, torch.randn(SEQ, 2, FEATURES, generator=gen)
    return model, torch.randn(2, SEQ, FEATURES, generator=gen)


def export(name: str, path: Path, dynamo: bool, opset: int = 17, batch: int | None = None) -> Path:
    """Export network `name` to `path` by either exporter, with a dynamic batch or (legacy
    exporter) a fixed one of `batch` samples."""
    model, example = build(name)
    axis = BATCH_AXIS.get(name, 0)
    if batch is not None:
        one = example.narrow(axis, 0, 1)
        torch.onnx.export(model, torch.cat([one] * batch, dim=axis), str(path), dynamo=False,
                          opset_version=opset, input_names=["x"], output_names=["y"])
        return path
    if dynamo:
        torch.onnx.export(model, (example,), str(path), dynamo=True, input_names=["x"],
                          output_names=["y"],
                          dynamic_shapes=({axis: torch.export.Dim("batch")},),
                          verbose=False, external_data=False)
    else:
        torch.onnx.export(model, example, str(path), dynamo=False, opset_version=opset,
                          input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {axis: "batch"}, "y": {0: "batch"}})
    return path


if __name__ == "__main__":
    DATA.mkdir(exist_ok=True)
    for net in ("transformer", "gru", "bilstm", "resnet18", "mobilenet_v2"):
        for exporter in ("legacy", "dynamo"):
            print(export(net, DATA / f"{net}_{exporter}.onnx", exporter == "dynamo"))
