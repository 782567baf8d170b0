"""The config's JSON schema, made from the pydantic models, and the README's table of keys made from the schema."""

from __future__ import annotations

import json
from typing import Any, Iterator

from .config_file import ConfigFile

TABLE_START = "<!-- config table: generated from the config models by `python -m reconciler schema --readme reconciler/README.md` -->"
TABLE_END = "<!-- end of the config table -->"


def config_schema() -> dict[str, Any]:
    return ConfigFile.model_json_schema()


def schema_text() -> str:
    """What `python -m reconciler schema` prints and reconciler/config.schema.json holds."""
    return json.dumps(config_schema(), indent=2, sort_keys=True) + "\n"


def markdown_table(schema: dict[str, Any]) -> str:
    lines = ["| key | default | |", "|---|---|---|"]
    lines += [f"| `{key}` | {default} | {description} |" for key, default, description in _rows(schema, schema, "")]
    return "\n".join(lines)


def _rows(root: dict[str, Any], section: dict[str, Any], prefix: str) -> Iterator[tuple[str, str, str]]:
    required = set(section.get("required", ()))
    for key, field in section.get("properties", {}).items():
        path = f"{prefix}{key}"
        default = "required" if key in required else _shown(field.get("default"))
        yield path, default, field.get("description", "").replace("|", "\\|")
        nested = _section_of(root, field)
        if nested is not None:
            yield from _rows(root, nested, f"{path}[]." if field.get("type") == "array" else f"{path}.")


def _section_of(root: dict[str, Any], field: dict[str, Any]) -> dict[str, Any] | None:
    """The model a field holds (directly, as list items, or as one choice of several), if any."""
    for candidate in (field, field.get("items", {}), *field.get("anyOf", ())):
        if "$ref" in candidate:
            return root["$defs"][candidate["$ref"].rsplit("/", 1)[-1]]
    return None


def _shown(default: Any) -> str:
    if default is None:
        return "none"
    if isinstance(default, dict):
        return "see below" if default else "none"
    return f"`{json.dumps(default) if not isinstance(default, str) else default}`"


def with_table(readme: str, table: str) -> str:
    """The README with the text between the two markers replaced by the table."""
    before, start, rest = readme.partition(TABLE_START)
    _, end, after = rest.partition(TABLE_END)
    if not start or not end:
        raise ValueError(f"the README has no {TABLE_START!r} ... {TABLE_END!r} markers")
    return f"{before}{TABLE_START}\n{table}\n{TABLE_END}{after}"
