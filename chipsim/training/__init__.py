"""Training networks on the arrays: dense and convolution layers whose weight matrices live in
training tiles.

The forward pass reads the tiles, the backward pass reads them transposed, and the update sends
the tiles' stochastic pulse trains; activations, the loss and the biases are digital (numpy).
The same network runs on float numpy matrices as the reference (`--float`). No PyTorch.
"""

from chipsim.training.chain import Chain
from chipsim.training.matrices import FloatMatrix, TileMatrix, training_tile_config
from chipsim.training.network import Network, build_network
from chipsim.training.loop import EpochResult, TrainSpec, train

__all__ = ["Chain", "FloatMatrix", "TileMatrix", "training_tile_config", "Network", "build_network",
           "EpochResult", "TrainSpec", "train"]
