"""Image placeholders: a string value that is exactly `${image:NAME}` is replaced by the image passed for NAME.

Only whole values are replaced, so a placeholder can't be half-substituted; any
other string that contains `${image:` is refused at load time rather than
deployed as written.
"""

from __future__ import annotations

import re
from typing import Any, Iterator, Mapping

PLACEHOLDER = re.compile(r"\$\{image:([a-z0-9][a-z0-9-]*)\}")
_MARKER = "${image:"


def malformed_placeholders(body: Any) -> list[tuple[str, str]]:
    """(location, value) of each string that mentions `${image:` without being exactly a placeholder."""
    return [
        (location, value)
        for location, value in _strings(body, "")
        if _MARKER in value and not PLACEHOLDER.fullmatch(value)
    ]


def substitute_images(body: Any, images: Mapping[str, Any]) -> tuple[Any, set[str]]:
    """A copy of body with every placeholder replaced, and the names that images lacks (left in place)."""
    unknown: set[str] = set()

    def copy(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: copy(item) for key, item in value.items()}
        if isinstance(value, list):
            return [copy(item) for item in value]
        placeholder = PLACEHOLDER.fullmatch(value) if isinstance(value, str) and value.startswith(_MARKER) else None
        if placeholder is None:
            return value
        name = placeholder.group(1)
        if name not in images:
            unknown.add(name)
            return value
        return images[name]

    return copy(body), unknown


def _strings(value: Any, location: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{location}.{key}" if location else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{location}[{index}]")
    elif isinstance(value, str):
        yield location, value
