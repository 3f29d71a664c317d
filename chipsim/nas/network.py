"""A candidate of the search space as a PyTorch network with hardware-aware training layers.

Built so that its crossbar matrices are exactly `chipsim.nas.space.matrices(arch)`, in that
order; every convolution is followed by batch norm, which the ONNX export folds into it.
"""

from __future__ import annotations

import torch
from torch import nn

from chipsim.hwa import Conv2d, Linear
from chipsim.nas.space import Architecture, MainBlock, bottleneck_width


def conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1, relu: bool = True) -> nn.Module:
    layers = [Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
              nn.BatchNorm2d(c_out)]
    return nn.Sequential(*layers, nn.ReLU()) if relu else nn.Sequential(*layers)


def branch(kind: str, c_in: int, c_out: int, stride: int) -> nn.Module:
    if kind == "basic":
        return nn.Sequential(conv_bn(c_in, c_out, 3, stride), conv_bn(c_out, c_out, 3, relu=False))
    mid = bottleneck_width(c_out)
    return nn.Sequential(conv_bn(c_in, mid, 1), conv_bn(mid, mid, 3, stride),
                         conv_bn(mid, c_out, 1, relu=False))


class ResidualBlock(nn.Module):
    """relu(sum of the branches + shortcut); the shortcut is a strided 1x1 projection where the
    shape changes."""

    def __init__(self, block: MainBlock, c_in: int, c_out: int, stride: int, project: bool):
        super().__init__()
        self.branches = nn.ModuleList(branch(block.kind, c_in, c_out, stride)
                                      for _ in range(block.branches))
        self.shortcut = conv_bn(c_in, c_out, 1, stride, relu=False) if project else None
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.shortcut(x) if self.shortcut is not None else x
        for b in self.branches:
            out = out + b(x)
        return self.relu(out)


def build_network(arch: Architecture, in_channels: int = 1, classes: int = 10) -> nn.Module:
    layers = [conv_bn(in_channels, arch.channels, arch.kernel)]
    channels = arch.stage_channels()
    for i, block in enumerate(arch.blocks):
        c_in, c_out = channels[i], channels[i + 1]
        for r in range(block.residual_blocks):
            first_in = c_in if r == 0 else c_out
            stride = 2 if (r == 0 and i > 0) else 1
            project = r == 0 and (first_in != c_out or i > 0)
            layers.append(ResidualBlock(block, first_in, c_out, stride, project))
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), Linear(channels[-1], classes)]
    return nn.Sequential(*layers)
