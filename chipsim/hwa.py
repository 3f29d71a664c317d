"""Hardware-aware training in PyTorch: layers that inject the crossbar's noise while training.

Each forward pass in training perturbs every weight by Gaussian noise relative to the layer's
max |W|, and adds Gaussian noise to the layer's output relative to its output range (max |W| x
max |x|), the chip paper's recipe; in evaluation and export they are plain layers (a Gemm, a
Conv). `workloads/train.py` trains the bundled workloads with them and AnalogNAS
(`chipsim.nas`) its candidates. Needs PyTorch (the `workloads` or `nas` extra).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

# Weight noise of hardware-aware training: twice the PCM programming noise (the chip paper's
# recipe, shared/reference/hermes64.md). The programming noise at g_max is 1.054 uS of 25 uS,
# 4.2 % (shared/reference/pcm-noise.md), so 2 x 4.2 % ~ 0.08 of max |W|.
WEIGHT_NOISE = 0.08
# Output noise: "standard deviation 10 % of the maximum output range" (hermes64.md). A tile's
# output range is set by its largest weight and its largest input (inputs and conductances are
# normalised to full scale), so the std is 0.1 x max |W| x max |x| of the batch.
OUTPUT_NOISE = 0.10


@dataclass(frozen=True)
class HwaNoise:
    """Noise injected in training: std relative to max |W| and to the output range."""

    weight: float = WEIGHT_NOISE
    output: float = OUTPUT_NOISE


def _noisy_mvm(layer: nn.Module, x: torch.Tensor, mvm) -> torch.Tensor:
    """Run `mvm(x, weight)` with the layer's training noise, then add the (exact) bias."""
    noise: HwaNoise = layer.hwa
    w = layer.weight
    w_max = w.detach().abs().max()
    y = mvm(x, w + noise.weight * w_max * torch.randn_like(w))
    y_range = w_max * x.detach().abs().max()
    y = y + noise.output * y_range * torch.randn_like(y)
    if layer.bias is not None:
        shape = (1, -1) + (1,) * (y.dim() - 2)
        y = y + layer.bias.view(shape)
    return y


class Linear(nn.Linear):
    """A dense layer that takes hardware-aware noise in training (exports as a plain Gemm)."""

    hwa: HwaNoise | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and self.hwa):
            return super().forward(x)
        return _noisy_mvm(self, x, lambda v, w: F.linear(v, w))


class Conv2d(nn.Conv2d):
    """A convolution that takes hardware-aware noise in training (exports as a plain Conv)."""

    hwa: HwaNoise | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and self.hwa):
            return super().forward(x)
        return _noisy_mvm(self, x, lambda v, w: F.conv2d(v, w, None, self.stride, self.padding))


def fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, noise: HwaNoise | None,
        epochs: int, batch_size: int, lr: float, weight_decay: float = 0.0,
        onecycle: bool = True, seed: int = 0, log=None) -> nn.Module:
    """Train `model` on (x, y) with `noise` injected into its Linear and Conv2d layers: Adam,
    a one-cycle schedule up to `lr` (or `lr` throughout), mini-batches in an order drawn from
    `seed`, cross-entropy loss. `log(epoch, mean loss)` hears each epoch. Returns the model
    in evaluation mode (plain layers, as exported)."""
    for m in model.modules():
        if isinstance(m, (Linear, Conv2d)):
            m.hwa = noise
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * -(-len(x) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps) \
        if onecycle else None
    order = torch.Generator().manual_seed(seed)
    model.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(x), generator=order)
        total = 0.0
        for start in range(0, len(x), batch_size):
            idx = perm[start:start + batch_size].to(x.device)
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            total += loss.item() * len(idx)
        if log is not None:
            log(epoch, total / len(x))
    return model.eval()
