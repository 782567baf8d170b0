"""The config's value types for the pydantic models: durations, secrets and paths read relative to the config file.

Each is an `Annotated` type whose validator keeps the wording of the config's own small languages
(durations.py, secret_sources.py), and whose JSON schema says what may be written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Optional

from pydantic import AfterValidator, BeforeValidator, Field, PlainValidator, ValidationInfo, WithJsonSchema

from .durations import parse_duration
from .model import Secret
from .secret_sources import read_secret

DURATION_SCHEMA: dict[str, Any] = {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": r"^(\d+(\.\d+)?(ms|s|m|h|d)?)+$"}]}
SECRET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"env": {"type": "string", "description": "an environment variable"},
                   "file": {"type": "string", "description": "a file, relative to the config file"}},
    "additionalProperties": False,
    "minProperties": 1,
    "maxProperties": 1,
}
GENERATED_SECRET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {**SECRET_SCHEMA["properties"],
                   "generate": {"type": "boolean", "description": "create the file with a random value when it is missing"}},
    "additionalProperties": False,
    "oneOf": [{"required": ["env"]}, {"required": ["file"]}],
}


def config_dir(info: ValidationInfo) -> Path:
    """The config file's folder, given by load_config as the validation context."""
    assert info.context is not None, "validate with context={'config_dir': ...}"
    return info.context["config_dir"]


def written(default: str, description: str) -> Any:
    """A default as it is written in the file (`60s`, `.reconciler`): validated, and shown in the schema, like one."""
    return Field(default, description=description)


def resolved_path(value: Any, info: ValidationInfo) -> Path:
    return (config_dir(info) / os.path.expanduser(str(value))).resolve()


def _longer_than_zero(seconds: float) -> float:
    if seconds <= 0:
        raise ValueError("must be longer than 0s")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration), WithJsonSchema(DURATION_SCHEMA)]
PositiveDuration = Annotated[Duration, AfterValidator(_longer_than_zero)]
DurationOrOff = Annotated[
    Optional[float],
    BeforeValidator(lambda value: parse_duration(value, allow_off=True)),
    WithJsonSchema({"anyOf": [*DURATION_SCHEMA["anyOf"], {"enum": ["off", "never", "disabled"]}]}),
]
SecretRef = Annotated[
    Secret, PlainValidator(lambda value, info: read_secret(value, config_dir(info))), WithJsonSchema(SECRET_SCHEMA),
]
GeneratedSecretRef = Annotated[
    Secret,
    PlainValidator(lambda value, info: read_secret(value, config_dir(info), allow_generate=True)),
    WithJsonSchema(GENERATED_SECRET_SCHEMA),
]
RelativePath = Annotated[Path, PlainValidator(resolved_path), WithJsonSchema({"type": "string"})]
