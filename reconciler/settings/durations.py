"""Durations as people write them in the config: `90`, `30s`, `5m`, `1h30m`, or `off`."""

from __future__ import annotations

import re
from typing import Optional, Union

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
OFF_WORDS = ("off", "never", "disabled")


def parse_duration(value: Union[str, int, float], allow_off: bool = False) -> Optional[float]:
    """Seconds, or None for `off` when allow_off; raises ValueError with a hint otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration; write e.g. 30s, 5m or 1h")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        if allow_off and text in OFF_WORDS:
            return None
        seconds = _parse_text(text)
    else:
        raise ValueError(f"{value!r} is not a duration; write e.g. 30s, 5m or 1h")
    if seconds < 0:
        raise ValueError(f"{value!r} is negative")
    if seconds == 0 and allow_off:
        return None
    return seconds


def _parse_text(text: str) -> float:
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    position, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(text) or not text:
        raise ValueError(f"{text!r} is not a duration; write e.g. 30s, 5m, 1h30m")
    return total


def format_duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return "off"
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"
