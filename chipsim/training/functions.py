"""The digital parts of a network: activations and the loss, with their derivatives, in numpy.

They run in the chip's digital units (or the host), not on the arrays, so float arithmetic is
what the hardware would do too.
"""

from __future__ import annotations

import numpy as np

ACTIVATIONS = ("sigmoid", "relu")


def activate(name: str, z: np.ndarray) -> np.ndarray:
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-np.clip(z, -60.0, 60.0)))
    return np.maximum(z, 0.0)


def activation_grad(name: str, a: np.ndarray) -> np.ndarray:
    """d activation / dz, written in terms of the activation a itself (saves keeping z)."""
    if name == "sigmoid":
        return a * (1.0 - a)
    return (a > 0).astype(a.dtype)


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample losses (natural log) and each sample's own dL/dlogits = softmax - one_hot
    (the network divides the learning rate by the batch size: the mean gradient)."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    total = e.sum(axis=1, keepdims=True)
    losses = np.log(total[:, 0]) - z[np.arange(len(labels)), labels]
    grad = e / total
    grad[np.arange(len(labels)), labels] -= 1.0
    return losses, grad
