"""AnalogNAS's search space as data: ResNet-like networks described by a short list of genes.

A candidate (Benmeziane et al. 2023, the macro space of ../shared/reference/seed-results.md) is
a first convolution (channels, kernel), then 1 to MAX_BLOCKS main blocks, each of a block type
(two 3x3 convolutions, or a 1x1-3x3-1x1 bottleneck), a number of residual blocks, a number of
parallel branches whose outputs add, and a widening factor for its output channels; every main
block after the first halves the feature map. Average pooling and a dense layer close it. The
paper allows up to 5 main blocks on 32 x 32 CIFAR images; our images are 8 x 8 or 28 x 28, so
at most 3 halvings make sense here.

Genes are indices into each gene's choices, so sampling, mutation and the surrogate's features
are plain integer vectors. `matrices` gives every weight matrix a candidate puts on crossbars
(im2col rows x output channels, batch norm folded into the convolution), so its weights and the
cores a one-block-per-core mapping takes are known before it is trained.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

MAX_BLOCKS = 3
STEM = (("channels", (8, 12, 16, 24)), ("kernel", (3, 5)), ("main_blocks", (1, 2, 3)))
BLOCK = (("kind", ("basic", "bottleneck")), ("residual_blocks", (1, 2)), ("branches", (1, 2)),
         ("widen", (1.0, 1.5, 2.0)))
GENES = STEM + tuple((f"b{i}.{name}", choices) for i in range(MAX_BLOCKS)
                     for name, choices in BLOCK)


@dataclass(frozen=True)
class MainBlock:
    kind: str  # "basic" (3x3, 3x3) or "bottleneck" (1x1, 3x3, 1x1)
    residual_blocks: int
    branches: int
    widen: float  # output channels = round(input channels x widen)


@dataclass(frozen=True)
class Architecture:
    channels: int
    kernel: int
    blocks: tuple[MainBlock, ...]

    @classmethod
    def from_genes(cls, genes: Sequence[int]) -> "Architecture":
        values = [choices[int(g)] for (_, choices), g in zip(GENES, genes)]
        channels, kernel, count = values[:3]
        per = len(BLOCK)
        blocks = tuple(MainBlock(*values[3 + i * per:3 + (i + 1) * per]) for i in range(count))
        return cls(channels, kernel, blocks)

    def genes(self) -> tuple[int, ...]:
        """The gene vector; the genes of absent main blocks are 0, so each network has one."""
        out = [STEM[0][1].index(self.channels), STEM[1][1].index(self.kernel),
               STEM[2][1].index(len(self.blocks))]
        for i in range(MAX_BLOCKS):
            block = self.blocks[i] if i < len(self.blocks) else None
            for name, choices in BLOCK:
                out.append(choices.index(getattr(block, name)) if block else 0)
        return tuple(out)

    def name(self) -> str:
        """A short readable name: c16k3-basic1x1w2-bottleneck2x2w1.5."""
        parts = [f"c{self.channels}k{self.kernel}"]
        parts += [f"{b.kind}{b.residual_blocks}x{b.branches}w{b.widen:g}" for b in self.blocks]
        return "-".join(parts)

    def stage_channels(self) -> list[int]:
        """Output channels of the stem and of each main block."""
        out = [self.channels]
        for block in self.blocks:
            out.append(max(1, round(out[-1] * block.widen)))
        return out


def bottleneck_width(c_out: int) -> int:
    """Channels inside a bottleneck branch: half its output, at least 4."""
    return max(4, c_out // 2)


def matrices(arch: Architecture, in_channels: int = 1, classes: int = 10
             ) -> list[tuple[int, int]]:
    """(rows, cols) of every crossbar matrix, in the order the network runs them."""
    out = [(in_channels * arch.kernel ** 2, arch.channels)]
    channels = arch.stage_channels()
    for i, block in enumerate(arch.blocks):
        c_in, c_out = channels[i], channels[i + 1]
        for r in range(block.residual_blocks):
            first_in = c_in if r == 0 else c_out
            for _ in range(block.branches):
                if block.kind == "basic":
                    out += [(first_in * 9, c_out), (c_out * 9, c_out)]
                else:
                    mid = bottleneck_width(c_out)
                    out += [(first_in, mid), (mid * 9, mid), (mid, c_out)]
            if r == 0 and (first_in != c_out or i > 0):  # projection shortcut (1x1, strided)
                out.append((first_in, c_out))
    out.append((channels[-1], classes))
    return out


def weights(arch: Architecture) -> int:
    """Weights on crossbars (biases, from folded batch norm, live in the digital units)."""
    return sum(r * c for r, c in matrices(arch))


def cores_one_block_per_core(arch: Architecture, rows: int = 256, cols: int = 256) -> int:
    """Cores the sequential strategy takes: each matrix cut into rows x cols blocks."""
    return sum(math.ceil(r / rows) * math.ceil(c / cols) for r, c in matrices(arch))


def latin_hypercube(count: int, seed: int) -> list[Architecture]:
    """`count` candidates whose genes are spread evenly: each gene's range is cut into `count`
    strata, each stratum used once, in a random order per gene (McKay et al. 1979)."""
    rng = np.random.default_rng(seed)
    columns = []
    for _, choices in GENES:
        u = (rng.permutation(count) + rng.uniform(size=count)) / count
        columns.append(np.minimum((u * len(choices)).astype(int), len(choices) - 1))
    return [Architecture.from_genes(g) for g in np.stack(columns, axis=1)]


def mutate(arch: Architecture, rng: np.random.Generator) -> Architecture:
    """A neighbour: one gene that matters set to another of its choices."""
    genes = list(arch.genes())
    live = 3 + len(BLOCK) * len(arch.blocks)  # genes of absent blocks change nothing
    g = int(rng.integers(live))
    choices = len(GENES[g][1])
    genes[g] = (genes[g] + 1 + int(rng.integers(choices - 1))) % choices
    return Architecture.from_genes(genes)


def features(arch: Architecture) -> list[float]:
    """The surrogate's inputs: the genes, weights (log) and crossbar matrices."""
    return [float(g) for g in arch.genes()] + [math.log(weights(arch)), len(matrices(arch))]


#: the plain ResNet the search is judged against: three stages of one basic residual block,
#: channels 16-16-32-64 (a ResNet-8 for small images)
BASELINE = Architecture(16, 3, (MainBlock("basic", 1, 1, 1.0), MainBlock("basic", 1, 1, 2.0),
                                MainBlock("basic", 1, 1, 2.0)))
