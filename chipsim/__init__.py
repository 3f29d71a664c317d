"""chipsim: an emulator of analog in-memory-computing chips.

A chip description (YAML) and a DNN graph go in; a mapping onto the chip's cores, the network's
accuracy under device noise, and its latency, throughput and energy come out.
"""

__version__ = "0.1.0"
