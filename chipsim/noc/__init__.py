"""The on-chip network, flit by flit, under synthetic traffic, and the theory it must meet.

`chipsim.timing` moves a whole message across a booked route at once; this package looks inside
the network: routers with finite input buffers, wormhole switching, credit-based flow control and
round-robin arbitration, advanced one cycle at a time (`router`), on the wiring and routes of the
chip description (`fabric`), fed by synthetic traffic patterns (`traffic`), measured in warm-up,
measurement and drain phases (`experiment`), and held against zero-load latency and the
channel-load bound computed from the same routes (`theory`). `chipsim noc` is its command.
"""

from chipsim.noc.experiment import Experiment, Point
from chipsim.noc.fabric import Fabric, build_fabric
from chipsim.noc.router import Network
from chipsim.noc.theory import channel_load_bound, channel_loads, zero_load_latency
from chipsim.noc.traffic import PATTERNS, traffic_matrix

__all__ = ["Experiment", "Point", "Fabric", "build_fabric", "Network", "channel_load_bound",
           "channel_loads", "zero_load_latency", "PATTERNS", "traffic_matrix"]
