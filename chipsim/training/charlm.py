"""A character language model on the arrays: one-hot characters in, LSTM layers, a dense output
layer, softmax cross-entropy on the next character (Gokmen et al., arXiv 1806.00166).

Every matrix is a FloatMatrix (the float reference) or a TileMatrix; the output layer reads
[h_t, 1] (its biases a row of the array, like the LSTM layers'). One SGD step takes a batch of
B sequences of T characters, each starting from h = c = 0: forward through every layer over the
whole sequence, backward (the output layer's transposed read, then BPTT down the LSTM layers),
then every matrix's rank-1 updates, one per time step and sequence, with lr / B.

Vector numbers: a training step's first is the count of character vectors seen so far, and
step t's reads of its B sequences use first + t B + b (see chipsim.training.lstm). Evaluation
reads are numbered apart, sequence s's step t at base + t N + s for N test sequences, whatever
the chunk of sequences read together.
The metric is the test cross-entropy per character in nats (natural log; / ln 2 for bits).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from chipsim.errors import DataError
from chipsim.training.functions import softmax_cross_entropy
from chipsim.training.loop import EpochResult, check_schedule, fit
from chipsim.training.lstm import LSTMLayer
from chipsim.training.matrices import FloatMatrix, TileMatrix
from chipsim.training.text import VOCAB, Corpus, load_corpus, sequences

_EVAL_BASE = 1 << 40  # input numbers of evaluation reads: apart from every training vector's


class CharModel:
    """LSTM layers and the output matrix (hidden + 1) x vocab."""

    def __init__(self, lstms: list[LSTMLayer], readout: FloatMatrix | TileMatrix, vocab: int):
        self.lstms, self.readout, self.vocab = lstms, readout, vocab
        self.vectors = 0  # training character vectors seen: the next step's first number

    def matrices(self) -> list[FloatMatrix | TileMatrix]:
        return [layer.matrix for layer in self.lstms] + [self.readout]

    def _forward(self, ids: np.ndarray, first: int, stride: int | None = None):
        """Every layer's trace, the output layer's read vectors [h_t, 1] and the logits, both
        (T B, ...) in (t, b) order; step t's vectors are numbered first + t stride + b."""
        batch, steps = ids.shape
        stride = batch if stride is None else stride
        hs = np.eye(self.vocab, dtype=np.float32)[ids.T]  # (T, B, vocab) one-hot
        traces = []
        for layer in self.lstms:
            hs, trace = layer.forward(hs, first, stride)
            traces.append(trace)
        read = np.concatenate([hs, np.ones((steps, batch, 1), dtype=hs.dtype)], axis=2)
        if stride == batch:  # the numbers run on: one read of all steps
            logits = self.readout.forward(read.reshape(steps * batch, -1), first)
        else:
            logits = np.concatenate([self.readout.forward(read[t], first + t * stride)
                                     for t in range(steps)])
        return traces, read.reshape(steps * batch, -1), logits

    def backprop(self, ids: np.ndarray, targets: np.ndarray, first: int = 0):
        """Summed loss of a batch (B, T) and, per matrix, (read vectors, output errors): the
        gradient of the summed loss is inputs.T @ errors, applied as rank-1 updates."""
        batch, steps = ids.shape
        traces, read, logits = self._forward(ids, first)
        losses, d = softmax_cross_entropy(logits, targets.T.reshape(-1))
        d = d.astype(logits.dtype)
        below = self.readout.backward(d, first)[:, :-1]
        grads = [(read, d)]
        dhs = below.reshape(steps, batch, -1)
        for k in range(len(self.lstms) - 1, -1, -1):
            layer, trace = self.lstms[k], traces[k]
            dhs, dz = layer.backward(dhs, trace, first, input_errors=k > 0)
            grads.insert(0, (trace.inputs.reshape(steps * batch, -1),
                             dz.reshape(steps * batch, -1)))
        return float(losses.sum()), grads

    def train_step(self, ids: np.ndarray, targets: np.ndarray, lr: float) -> float:
        """One SGD step on B sequences; returns the sum over them of each one's mean loss per
        character (so loop.run_epoch's mean is the loss per character)."""
        first = self.vectors
        self.vectors += ids.size
        loss, grads = self.backprop(ids, targets, first)
        for matrix, (inputs, errors) in zip(self.matrices(), grads):
            matrix.update(inputs, errors, lr / len(ids))
        return loss / ids.shape[1]

    def evaluate(self, ids: np.ndarray, targets: np.ndarray, tag: int = 0,
                 batch: int = 1024) -> tuple[float, float]:
        """Next-character accuracy and mean cross-entropy per character (nats) over sequences,
        read `batch` sequences at a time (the result does not depend on it)."""
        losses = np.empty(ids.shape, dtype=np.float64)  # (sequence, step): one sum order
        correct = 0
        for k0 in range(0, len(ids), batch):
            x, y = ids[k0:k0 + batch], targets[k0:k0 + batch]
            logits = self._forward(x, _EVAL_BASE + tag * (1 << 32) + k0, len(ids))[2]
            labels = y.T.reshape(-1)
            part, _ = softmax_cross_entropy(logits, labels)
            losses[k0:k0 + batch] = part.reshape(x.shape[1], -1).T
            correct += int((logits.argmax(axis=1) == labels).sum())
        return correct / ids.size, float(losses.mean())


def build_char_model(vocab: int, hidden: list[int], seed: int, tile_config=None) -> CharModel:
    """LSTM layers of the given hidden sizes and the output layer, weights drawn from a numpy
    Generator of `seed`: LSTM weights uniform in +-1/sqrt(hidden), the output layer's in
    +-sqrt(6 / (fan in + fan out)), bias rows 0. On tiles of `tile_config`, consecutive tile
    ids, or float numpy matrices when it is None."""
    if not hidden or min(hidden) < 1:
        raise DataError(f"LSTM hidden sizes {hidden}: expected at least one size, all >= 1")
    if vocab < 2:
        raise DataError(f"vocabulary of {vocab} classes: expected at least 2")
    rs = np.random.default_rng(seed)
    tile_id = 0

    def matrix(w: np.ndarray) -> FloatMatrix | TileMatrix:
        nonlocal tile_id
        w[-1] = 0.0  # the bias row
        w = w.astype(np.float32)
        if tile_config is None:
            return FloatMatrix(w)
        m = TileMatrix(tile_config, w, tile_id, seed)
        tile_id += m.tile_count
        return m

    lstms, width = [], vocab
    for n in hidden:
        bound = 1.0 / np.sqrt(n)
        lstms.append(LSTMLayer(matrix(rs.uniform(-bound, bound, (width + n + 1, 4 * n))),
                               width, n))
        width = n
    bound = np.sqrt(6.0 / (width + 1 + vocab))
    return CharModel(lstms, matrix(rs.uniform(-bound, bound, (width + 1, vocab))), vocab)


@dataclass(frozen=True)
class TextSpec:
    """What to train on text and how. `tile_config` None: the float numpy reference."""

    hidden: tuple[int, ...] = (64,)
    seq_len: int = 25
    epochs: int = 1
    lr: float = 0.1
    batch: int = 1
    seed: int = 0
    train_chars: int | None = 20000
    test_chars: int | None = 5000
    tile_config: object | None = field(default=None, compare=False)


def train_text(spec: TextSpec, on_epoch: Callable[[EpochResult], None] | None = None,
               on_batch: Callable[[int], None] | None = None,
               corpus: Corpus | None = None) -> list[EpochResult]:
    """Train the spec's model; each epoch ends with the test accuracy and cross-entropy per
    character (`test_loss`, nats); `corpus` saves a reload (it must be cut as the spec says)."""
    check_schedule(spec)
    corpus = load_corpus(spec.train_chars, spec.test_chars) if corpus is None else corpus
    model = build_char_model(VOCAB, list(spec.hidden), spec.seed, spec.tile_config)
    return fit(model, sequences(corpus.train, spec.seq_len), sequences(corpus.test, spec.seq_len),
               spec, on_epoch, on_batch)
