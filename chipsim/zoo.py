"""Standard vision networks written in PyTorch, to export and bring to chipsim as users do.

ResNet-18 (He et al., CVPR 2016, the ImageNet variant: 7 x 7 stem, four stages of two basic
blocks), VGG-11 (Simonyan and Zisserman, ICLR 2015, for 224 x 224 inputs) and MobileNetV2 (Sandler et al., CVPR 2018: inverted residual blocks with depthwise
convolutions, ReLU6, the paper's stage table). Written here from the papers because torchvision
does not install beside the CPU build of PyTorch here; the layer shapes are the papers'. Both
take `width` (channels scaled, as the papers' width multipliers) and `classes`, so tests export
small versions and `python -m chipsim.zoo` the full ones. Needs PyTorch.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import nn


def _conv_bn(c_in: int, c_out: int, k: int, stride: int = 1, groups: int = 1,
             act: type[nn.Module] | None = nn.ReLU) -> list[nn.Module]:
    layers = [nn.Conv2d(c_in, c_out, k, stride, k // 2, groups=groups, bias=False),
              nn.BatchNorm2d(c_out)]
    return layers + ([act()] if act else [])


class BasicBlock(nn.Module):
    """Two 3 x 3 convs and a skip connection (a strided 1 x 1 conv where the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(*_conv_bn(c_in, c_out, 3, stride),
                                  *_conv_bn(c_out, c_out, 3, act=None))
        self.skip = (nn.Sequential(*_conv_bn(c_in, c_out, 1, stride, act=None))
                     if stride != 1 or c_in != c_out else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


def resnet18(classes: int = 1000, width: float = 1.0, in_channels: int = 3) -> nn.Module:
    """ResNet-18: 11.7 M weights at width 1 and 1000 classes."""
    c = [max(1, round(64 * width * 2 ** k)) for k in range(4)]
    blocks: list[nn.Module] = [*_conv_bn(in_channels, c[0], 7, 2), nn.MaxPool2d(3, 2, 1)]
    c_in = c[0]
    for stage, c_out in enumerate(c):
        for i in range(2):
            blocks.append(BasicBlock(c_in, c_out, 2 if stage and not i else 1))
            c_in = c_out
    return nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(c_in, classes))


def _divisible(v: float, by: int = 8) -> int:
    """Channels rounded to a multiple of 8, never below 90 % of v (the paper's code's rule)."""
    out = max(by, int(v + by / 2) // by * by)
    return out + by if out < 0.9 * v else out


class InvertedResidual(nn.Module):
    """Expand (1 x 1), depthwise 3 x 3, project (1 x 1, linear); a skip when shapes agree."""

    def __init__(self, c_in: int, c_out: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = c_in * expand
        layers = _conv_bn(c_in, hidden, 1, act=nn.ReLU6) if expand != 1 else []
        layers += _conv_bn(hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6)
        layers += _conv_bn(hidden, c_out, 1, act=None)
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.residual else self.body(x)


#: MobileNetV2's stages (Sandler et al. 2018, table 2): expansion t, channels c, repeats n,
#: first stride s
MOBILENET_V2_STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                       (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def mobilenet_v2(classes: int = 1000, width: float = 1.0, in_channels: int = 3) -> nn.Module:
    """MobileNetV2: 3.5 M weights at width 1 and 1000 classes; 17 depthwise convolutions."""
    c_in = _divisible(32 * width)
    last = _divisible(1280 * max(1.0, width))
    blocks: list[nn.Module] = [*_conv_bn(in_channels, c_in, 3, 2, act=nn.ReLU6)]
    for t, c, n, s in MOBILENET_V2_STAGES:
        c_out = _divisible(c * width)
        for i in range(n):
            blocks.append(InvertedResidual(c_in, c_out, s if i == 0 else 1, t))
            c_in = c_out
    blocks += _conv_bn(c_in, last, 1, act=nn.ReLU6)
    return nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Dropout(0.2), nn.Linear(last, classes))


#: VGG-11's convolutions (Simonyan and Zisserman, ICLR 2015, configuration A); "M": max-pool
VGG11 = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")


def vgg11(classes: int = 1000, width: float = 1.0, in_channels: int = 3) -> nn.Module:
    """VGG-11: 132.9 M weights at width 1 (123 M of them in the three dense layers)."""
    layers: list[nn.Module] = []
    c_in = in_channels
    for v in VGG11:
        if v == "M":
            layers.append(nn.MaxPool2d(2))
            continue
        c_out = max(1, round(v * width))
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU()]
        c_in = c_out
    hidden = max(1, round(4096 * width))
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(c_in * 7 * 7, hidden), nn.ReLU(),
                         nn.Dropout(0.5), nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(hidden, classes))


NETWORKS = {"resnet18": resnet18, "mobilenet_v2": mobilenet_v2, "vgg11": vgg11}


def export(name: str, path: str | Path, *, size: int = 224, width: float = 1.0,
           classes: int = 1000, dynamo: bool = False, seed: int = 0) -> Path:
    """Network `name` with random weights from `seed` (batch norm statistics included, so
    folding them is not a no-op), exported for inputs of 3 x size x size with a dynamic batch."""
    torch.manual_seed(seed)
    model = NETWORKS[name](classes, width)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    model.eval()
    x = torch.randn(2, 3, size, size)
    path = Path(path)
    if dynamo:
        torch.onnx.export(model, (x,), str(path), dynamo=True, input_names=["x"],
                          output_names=["y"], dynamic_shapes=({0: torch.export.Dim("batch")},),
                          verbose=False, external_data=False)
    else:
        torch.onnx.export(model, x, str(path), dynamo=False, opset_version=17,
                          input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m chipsim.zoo", description=__doc__.splitlines()[0])
    p.add_argument("name", choices=sorted(NETWORKS))
    p.add_argument("-o", "--output", required=True, help="ONNX file to write")
    p.add_argument("--size", type=int, default=224, help="input height and width (default 224)")
    p.add_argument("--width", type=float, default=1.0, help="width multiplier (default 1)")
    p.add_argument("--classes", type=int, default=1000)
    p.add_argument("--dynamo", action="store_true", help="the dynamo exporter (needs onnxscript)")
    args = p.parse_args(argv)
    print(export(args.name, args.output, size=args.size, width=args.width,
                 classes=args.classes, dynamo=args.dynamo))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
