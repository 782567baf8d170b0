"""pydantic's validation errors as the config's problems: `where: what is wrong and what to write`."""

from __future__ import annotations

import difflib
import typing
from typing import Any, Optional

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

# pydantic's words for a wrong type, in the config's words.
_PLAIN_WORDS = {
    "bool_type": "must be true or false",
    "int_type": "must be a whole number",
    "string_type": "must be text",
    "list_type": "must be a list",
    "missing": "is required",
}


def describe(error: ValidationError, document: dict, model: type[BaseModel]) -> list[str]:
    return [problem for detail in error.errors(include_url=False) for problem in _problems(detail, document, model)]


def _problems(detail: ErrorDetails, document: dict, model: type[BaseModel]) -> list[str]:
    loc = [part for part in detail["loc"] if part != "[key]"]
    prefix, keys = _entry(loc, document)
    if detail["type"] == "extra_forbidden":
        where = ".".join(map(str, keys[:-1]))
        section = ": ".join(part for part in (prefix, where) if part) or "top level"
        return [f"{section}: {_unknown_key(str(keys[-1]), _known_keys(model, loc[:-1]))}"]
    where = ": ".join(part for part in (prefix, ".".join(map(str, keys))) if part)
    text = _text(detail, model, loc)
    return [f"{where}: {line}" if where else line for line in text.split("\n")]


def _entry(loc: list[Any], document: dict) -> tuple[str, list[Any]]:
    """`stacks[0] (web)` (or `notifications.sinks[1] (chat)`) and the keys inside that entry, or no entry and the keys from the top."""
    found: Any = document
    for depth, part in enumerate(loc):
        if isinstance(part, int) and depth > 0:
            entry = found[part] if isinstance(found, list) and 0 <= part < len(found) else None
            name = entry.get("name") if isinstance(entry, dict) else None
            where = f"{'.'.join(map(str, loc[:depth]))}[{part}]"
            return (f"{where} ({name})" if isinstance(name, str) else where), loc[depth + 1:]
        found = found.get(part) if isinstance(found, dict) else None
    return "", loc


def _text(detail: ErrorDetails, model: type[BaseModel], loc: list[Any]) -> str:
    kind, context = detail["type"], detail.get("ctx") or {}
    if kind == "value_error":
        return str(context["error"])
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        known = _known_keys(model, loc)
        return f"must be a mapping of {', '.join(known)}" if known else "must be a mapping"
    if kind == "greater_than_equal":
        return f"must be a whole number of at least {context['ge']}, got {detail['input']!r}"
    if kind in ("literal_error", "enum"):
        return f"must be {context['expected']}, got {detail['input']!r}"
    return f"{_PLAIN_WORDS.get(kind, detail['msg'])}, got {detail['input']!r}" if kind != "missing" else _PLAIN_WORDS[kind]


def _unknown_key(key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
    return f"unknown key {key!r}; {hint}"


def _known_keys(model: type[BaseModel], loc: list[Any]) -> tuple[str, ...]:
    """The keys of the section at loc, found by following the models' field types."""
    section: Optional[type[BaseModel]] = model
    for part in loc:
        if section is None or isinstance(part, int):
            continue
        field = section.model_fields.get(str(part))
        section = _model_in(field.annotation) if field else None
    return tuple(section.model_fields) if section else ()


def _model_in(annotation: Any) -> Optional[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _model_in(argument)
        if found:
            return found
    return None
