"""chipsim: an emulator of analog in-memory-computing chips.

A chip description (YAML) and a DNN graph go in; a mapping onto the chip's cores, the network's
accuracy under device noise, and its latency, throughput and energy come out. The names a script
needs are here (`chipsim.api` documents them); the errors are those of the command line.

    import chipsim
    chip = chipsim.load_chip("hermes64")
    graph = chipsim.load_graph("workloads/mnist_cnn/cnn.onnx")
    mapping = chipsim.calibrate(graph, chipsim.map_network(graph, chip), chip, data="mnist")
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: public name -> the module that defines it; loaded on first use, so that `chipsim info` does
#: not pay for the numerical stack
_EXPORTS = {
    **{name: "chipsim.api" for name in ("accuracy", "calibrate", "load_mapping", "load_system",
                                         "map_network", "simulate", "write_report")},
    "load_chip": "chipsim.arch", "Chip": "chipsim.arch",
    "load_graph": "chipsim.graph", "Graph": "chipsim.graph",
    "Mapping": "chipsim.mapping",
    "AnalogOptions": "chipsim.functional.analog",
    "AccuracyResult": "chipsim.functional.result",
    "SimResult": "chipsim.timing.results",
    **{name: "chipsim.errors" for name in ("ChipsimError", "DataError", "DescriptionError",
                                            "GraphError", "MappingError")},
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'chipsim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(["__version__", *_EXPORTS])
