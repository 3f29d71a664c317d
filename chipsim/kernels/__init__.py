"""Numba kernels: counter-based random numbers (`rng`) and the crossbar tile's periphery (`tile`).

Numba caches a compiled kernel under `__pycache__` and checks only the timestamp of the kernel's
own file. The tile kernels compile the random-number functions of `rng.py` into themselves, so
after `rng.py` changes alone they would keep running the old numbers. Before any kernel module
loads, this package therefore compares a digest of all its sources with the one the cache was
built from, and empties the cache when they differ.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def drop_stale_cache(here: Path) -> bool:
    """Empty `here/__pycache__` of compiled kernels unless they were built from these sources;
    True when it did."""
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(here.glob("*.py")))).hexdigest()
    cache = here / "__pycache__"
    stamp = cache / "kernels-sources.sha256"
    try:
        if stamp.exists() and stamp.read_text() == digest:
            return False
        for compiled in [*cache.glob("*.nbi"), *cache.glob("*.nbc")]:
            compiled.unlink()
        cache.mkdir(exist_ok=True)
        stamp.write_text(digest)
    except OSError:  # a read-only install: numba then caches in its user folder, not here
        return False
    return True


drop_stale_cache(Path(__file__).resolve().parent)
