"""Collecting config problems, and the readers of plain values that report into it."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Optional

from .durations import parse_duration
from .model import Secret
from .secret_sources import read_secret


class Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, problem: str) -> None:
        self.items.append(f"{where}: {problem}")

    def unknown_keys(self, where: str, section: dict, known: tuple[str, ...]) -> None:
        for key in section:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
                self.add(where, f"unknown key {key!r}; {hint}")


def integer(value: Any, where: str, problems: Problems, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        problems.add(where, f"must be a whole number of at least {minimum}, got {value!r}")
        return minimum
    return value


def duration(value: Any, where: str, problems: Problems, allow_off: bool = False) -> Optional[float]:
    try:
        return parse_duration(value, allow_off=allow_off)
    except ValueError as error:
        problems.add(where, str(error))
        return None


def secret(spec: Any, where: str, base: Path, problems: Problems, allow_generate: bool = False) -> Optional[Secret]:
    try:
        return read_secret(spec, base, allow_generate=allow_generate)
    except ValueError as error:
        problems.add(where, str(error))
        return None
