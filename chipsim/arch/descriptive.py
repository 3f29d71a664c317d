"""Description fields that change no figure chipsim reports, and why each is kept.

Issue 17 asks every field of a chip description to act or be gone. A test walks every leaf of
the built-in hermes64 description, changes it, and checks that a figure of `chipsim info` or of
a small simulation moves (tests/test_description_fields.py); the fields below are the documented
exceptions (docs/chip-description.md lists them too).
"""

from __future__ import annotations

#: dotted field path -> why changing it moves no reported figure
DESCRIPTIVE_ONLY: dict[str, str] = {
    "name": "identity: names the chip in reports and on the command line",
    "title": "a human-readable title for reports",
    "cores.unit_cell.combine": "the only value the schema allows (sum); kept so a description "
                               "says how parallel devices are read",
    "cores.device.model": "the discriminator of the device model; pcm is the only model",
    "cores.dac.kind": "the only value the schema allows (pwm); the DAC's timing and energy "
                      "follow from bits, step_ns and window",
    "network.topology.kind": "the discriminator of the topology: changing it means writing a "
                             "different topology (links), not a nearby value",
}
