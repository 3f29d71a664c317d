"""Character text for language models, read from the running Python's standard library.

Nothing can be downloaded, and Gokmen et al. trained on War and Peace and the Linux kernel
source. The analogue of the kernel-source corpus that every machine already has is the source of
the interpreter's own standard library: a fixed list of modules (`FILES`), read in that order
and joined with one newline. The text depends on the Python version (its modules change), so
`Corpus` carries the text's length and sha256 and every result records them.

Vocabulary: newline and printable ASCII (32..126), 96 symbols, and one more token for every
other character (tabs, non-ASCII): 97 classes. Split: the first 90 % of the characters train,
the last 10 % test (one cut, no shuffling, so test text is text the model never saw).
"""

from __future__ import annotations

import hashlib
import platform
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chipsim.errors import DataError

FILES = ("textwrap.py", "string.py", "heapq.py", "bisect.py", "queue.py", "shlex.py",
         "fractions.py", "calendar.py", "csv.py", "pprint.py", "random.py", "statistics.py",
         "tokenize.py", "copy.py", "contextlib.py", "functools.py", "difflib.py",
         "argparse.py")
SYMBOLS = "\n" + "".join(chr(c) for c in range(32, 127))
VOCAB = len(SYMBOLS) + 1  # the last class: any other character
TEST_FRACTION = 0.1
_CODES = np.full(128, len(SYMBOLS), dtype=np.int64)
_CODES[[ord(s) for s in SYMBOLS]] = np.arange(len(SYMBOLS))


@dataclass(frozen=True)
class Corpus:
    """The encoded text, split, and what identifies it (length and sha256 of the whole text)."""

    train: np.ndarray  # int64 class ids
    test: np.ndarray
    chars: int
    sha256: str
    python: str

    def describe(self) -> dict:
        return {"text": "python stdlib sources", "python": self.python, "chars": self.chars,
                "sha256": self.sha256, "train_chars": len(self.train),
                "test_chars": len(self.test), "vocab": VOCAB}


def encode(text: str) -> np.ndarray:
    """Class ids of the characters: SYMBOLS' positions, VOCAB - 1 for anything else."""
    raw = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    return np.where(raw < 128, _CODES[np.minimum(raw, 127)], VOCAB - 1)


def stdlib_text(files: tuple[str, ...] = FILES) -> str:
    """The listed standard-library sources of this interpreter, joined by newlines."""
    root = Path(sysconfig.get_paths()["stdlib"])
    parts = []
    for name in files:
        path = root / name
        if not path.is_file():
            raise DataError(f"text corpus: {path} not found (this Python's standard library "
                            f"has no {name} source file)")
        parts.append(path.read_text(encoding="utf-8"))
    return "\n".join(parts)


def load_corpus(train_chars: int | None = None, test_chars: int | None = None,
                files: tuple[str, ...] = FILES) -> Corpus:
    """The corpus, its training part cut to the first `train_chars` characters and its test
    part to the first `test_chars` (None: all) for quick runs."""
    for name, value in (("train_chars", train_chars), ("test_chars", test_chars)):
        if value is not None and value < 2:
            raise DataError(f"text {name}: expected at least 2 characters, got {value}")
    text = stdlib_text(files)
    ids = encode(text)
    cut = int(round(len(ids) * (1 - TEST_FRACTION)))
    train, test = ids[:cut], ids[cut:]
    for name, value, part in (("train_chars", train_chars, train),
                              ("test_chars", test_chars, test)):
        if value is not None and value > len(part):
            raise DataError(f"text {name}: {value} asked, the corpus has {len(part)}")
    return Corpus(train=train[:train_chars], test=test[:test_chars], chars=len(text),
                  sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
                  python=platform.python_version())


def sequences(ids: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping windows: inputs (n, length) and their next characters (n, length)."""
    if length < 1:
        raise DataError(f"sequence length: expected >= 1, got {length}")
    n = (len(ids) - 1) // length
    if n < 1:
        raise DataError(f"text of {len(ids)} characters is too short for one sequence of "
                        f"{length} (+1) characters")
    x = ids[:n * length].reshape(n, length)
    y = ids[1:n * length + 1].reshape(n, length)
    return x, y
