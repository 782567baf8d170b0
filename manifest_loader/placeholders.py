"""Placeholders: a string value that is exactly `${image:NAME}` or `${secret:NAME}` is replaced when rendering.

`${image:NAME}` becomes the image passed for NAME. `${secret:NAME}` becomes the
value of the stack's secret NAME, and only in a Secret's `data` (base64-encoded
there, as the API expects) or `stringData`: anywhere else the value would sit
in plain sight in an object that is not a Secret. Only whole values are
replaced, so a placeholder can't be half-substituted; any other string that
mentions `${image:` or `${secret:` is refused at load time rather than
deployed as written.
"""

from __future__ import annotations

import base64
import re
from typing import Any, Iterable, Iterator, Mapping, Union

PLACEHOLDER = re.compile(r"\$\{image:([a-z0-9][a-z0-9-]*)\}")
SECRET_PLACEHOLDER = re.compile(r"\$\{secret:([A-Za-z0-9][A-Za-z0-9_-]*)\}")
_MARKERS = ("${image:", "${secret:")
SECRET_FIELDS = ("data", "stringData")

Location = tuple[Union[str, int], ...]


def is_secret(body: Any) -> bool:
    """A core v1 Secret, whose data is never shown in an error."""
    return isinstance(body, dict) and body.get("apiVersion") == "v1" and body.get("kind") == "Secret"


def malformed_placeholders(body: Any) -> list[tuple[Location, str]]:
    """(location, value) of each string that mentions a placeholder without being exactly one."""
    return [
        (location, value)
        for location, value in _strings(body, ())
        if any(marker in value for marker in _MARKERS)
        and not PLACEHOLDER.fullmatch(value)
        and not SECRET_PLACEHOLDER.fullmatch(value)
    ]


def secret_placeholders(body: Any) -> list[tuple[Location, str]]:
    """(location, NAME) of every `${secret:NAME}` in the object."""
    found = []
    for location, value in _strings(body, ()):
        match = SECRET_PLACEHOLDER.fullmatch(value) if value.startswith("${secret:") else None
        if match:
            found.append((location, match.group(1)))
    return found


def secret_names_used(objects: Iterable[Any]) -> set[str]:
    """The NAMEs of every `${secret:NAME}` in the ManifestObjects."""
    return {name for obj in objects for _, name in secret_placeholders(obj.body)}


def is_secret_value_location(body: Any, location: Location) -> bool:
    """Where a secret placeholder may stand: a value directly under a Secret's data or stringData."""
    return is_secret(body) and len(location) == 2 and location[0] in SECRET_FIELDS


def substitute(body: Any, images: Mapping[str, Any], secrets: Mapping[str, str]) -> tuple[Any, set[str]]:
    """A copy of body with every placeholder replaced, and the names missing from images/secrets (left in place).

    Names are reported as `image:NAME` or `secret:NAME`. Secret placeholders are
    only looked for where the loader allows them (is_secret_value_location).
    """
    unknown: set[str] = set()

    def copy(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: copy(item) for key, item in value.items()}
        if isinstance(value, list):
            return [copy(item) for item in value]
        image = PLACEHOLDER.fullmatch(value) if isinstance(value, str) and value.startswith("${image:") else None
        if image is None:
            return value
        if image.group(1) not in images:
            unknown.add(f"image:{image.group(1)}")
            return value
        return images[image.group(1)]

    result = copy(body)
    if is_secret(result):
        for field in SECRET_FIELDS:
            values = result.get(field)
            for key, value in (values.items() if isinstance(values, dict) else ()):
                secret = SECRET_PLACEHOLDER.fullmatch(value) if isinstance(value, str) else None
                if secret is None:
                    continue
                if secret.group(1) not in secrets:
                    unknown.add(f"secret:{secret.group(1)}")
                    continue
                plain = secrets[secret.group(1)]
                values[key] = base64.b64encode(plain.encode()).decode() if field == "data" else plain
    return result, unknown


def _strings(value: Any, location: Location) -> Iterator[tuple[Location, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, location + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, location + (index,))
    elif isinstance(value, str):
        yield location, value
