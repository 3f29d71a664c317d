"""Times after programming, written the way people say them: `1s`, `10m`, `1h`, `1d`, `1y`.

Drift studies ask "how good is the chip an hour, a day, a year after programming?". This module
turns such strings into seconds (a year is 365 days) and rejects anything else with a message
that shows the accepted form.
"""

from __future__ import annotations

import math
import re

from chipsim.errors import ChipsimError

UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "y": 365.0 * 86400.0}

_TIME = re.compile(r"^\s*(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)\s*([smhdy]?)\s*$")


class TimeError(ChipsimError):
    """A time string that is not a non-negative number with an optional s/m/h/d/y suffix."""


def parse_time(text: str) -> float:
    """Seconds in `text` such as "1h", "0.5d", "30" (seconds) or "0" (right after programming)."""
    match = _TIME.match(str(text))
    if not match and str(text).strip().startswith("-"):
        raise TimeError(f"bad time {text!r}: times count from programming and are >= 0")
    if not match:
        raise TimeError(
            f"bad time {text!r}: expected a number with an optional unit s, m, h, d or y "
            "(for example 1s, 10m, 1h, 1d, 1y)"
        )
    value = float(match.group(1)) * UNIT_SECONDS[match.group(2) or "s"]
    if not math.isfinite(value):
        raise TimeError(f"bad time {text!r}: not a finite number")
    return value


def parse_times(text: str, distinct: bool = False) -> list[float]:
    """A comma-separated list of times, in the order given, e.g. "1s,1h,1d,1y"; with
    `distinct`, a time given twice (also as "1h,60m") is an error: it would be a second,
    identical row of every table."""
    parts = [part for part in str(text).split(",")]
    if not parts or any(not part.strip() for part in parts):
        raise TimeError(f"bad time list {text!r}: expected comma-separated times such as 1s,1h,1d,1y")
    seconds = [parse_time(part) for part in parts]
    if distinct:
        for i, value in enumerate(seconds):
            if value in seconds[:i]:
                first = parts[seconds.index(value)].strip()
                same = "twice" if first == parts[i].strip() else f"twice ({first} and {parts[i].strip()})"
                raise TimeError(f"bad time list {text!r}: {format_time(value)} is given {same}")
    return seconds


def format_time(seconds: float) -> str:
    """The shortest exact spelling of `seconds` in the largest fitting unit ("3600" -> "1h")."""
    if seconds == 0:
        return "0s"
    for unit in ("y", "d", "h", "m"):
        amount = seconds / UNIT_SECONDS[unit]
        if amount >= 1 and float(amount).is_integer():
            return f"{int(amount)}{unit}"
    return f"{seconds:g}s"
