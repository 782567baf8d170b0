"""Validators for custom resources, from the CustomResourceDefinitions of the same commit.

A CRD's openAPIV3Schema is OpenAPI's dialect of JSON Schema; the two keywords
that change what is valid are translated (`nullable`, and
`x-kubernetes-int-or-string`); the other `x-kubernetes-*` keywords are
ignored. apiVersion, kind and metadata are left to the loader's own checks.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

import jsonschema

from .model import ManifestObject

_CRD = ("apiextensions.k8s.io", "CustomResourceDefinition")
_SCHEMA_MAPS = ("properties", "patternProperties")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_SCHEMA_VALUES = ("items", "additionalProperties", "not")

# (group, kind) -> version -> validator, None when the version has no schema
CustomValidators = dict[tuple[str, str], dict[str, Optional[jsonschema.protocols.Validator]]]


def crd_validators(objects: Iterable[ManifestObject]) -> CustomValidators:
    validators: CustomValidators = {}
    for obj in objects:
        if (obj.key.group, obj.key.kind) != _CRD:
            continue
        spec = obj.body.get("spec") or {}
        names = spec.get("names") or {}
        if not isinstance(spec.get("group"), str) or not isinstance(names.get("kind"), str):
            continue  # the CRD's own schema check names what is missing
        versions = validators.setdefault((spec["group"], names["kind"]), {})
        for version in spec.get("versions") or ():
            if isinstance(version, dict) and isinstance(version.get("name"), str) and version.get("served", True):
                versions[version["name"]] = _validator((version.get("schema") or {}).get("openAPIV3Schema"))
    return validators


def _validator(schema: Any) -> Optional[jsonschema.protocols.Validator]:
    if not isinstance(schema, dict):
        return None
    translated = _translate(schema)
    for field in ("apiVersion", "kind", "metadata"):
        translated.get("properties", {}).pop(field, None)
    return jsonschema.Draft202012Validator(translated)


def _translate(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return schema
    translated: dict[str, Any] = {}
    for keyword, value in schema.items():
        if keyword in _SCHEMA_MAPS and isinstance(value, dict):
            translated[keyword] = {field: _translate(item) for field, item in value.items()}
        elif keyword in _SCHEMA_LISTS and isinstance(value, list):
            translated[keyword] = [_translate(item) for item in value]
        elif keyword in _SCHEMA_VALUES:
            translated[keyword] = _translate(value)
        elif keyword != "format":  # OpenAPI formats are not JSON Schema's; the API server checks them
            translated[keyword] = value
    if schema.get("x-kubernetes-int-or-string"):
        translated.pop("type", None)
        translated["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if schema.get("nullable") and isinstance(translated.get("type"), str):
        translated["type"] = [translated["type"], "null"]
    return translated
