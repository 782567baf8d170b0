"""Each object against the schema of its kind: what is wrong, where, and what to write instead.

Built-in kinds use the target Kubernetes version's schemas, custom resources
the CRDs of the same commit. A custom resource whose CRD is not in the commit
is not checked here (its CRD lives in the cluster); a built-in group's unknown
kind or a version the release does not serve is refused. Messages never show
a value of a Secret.
"""

from __future__ import annotations

import difflib
from typing import Any, Optional

import jsonschema

from .crd_schemas import CustomValidators
from .errors import ManifestProblem, dotted_path, object_problem
from .kubernetes_schemas import KubernetesSchemas
from .model import ManifestObject
from .placeholders import is_secret
from .source_lines import SourceLocator

MAX_PROBLEMS_PER_OBJECT = 10
# Groups that Kubernetes served once and no more: their kinds moved (extensions/v1beta1 Deployment -> apps/v1).
_RETIRED_GROUPS = frozenset({"extensions"})
_JSON_TYPES = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}


def schema_problems(
    obj: ManifestObject, schemas: KubernetesSchemas, custom: CustomValidators, source: SourceLocator
) -> list[ManifestProblem]:
    group, _, version = obj.body["apiVersion"].rpartition("/")
    kind = obj.key.kind
    validator = schemas.validator(group, version, kind)
    if validator is None:
        if (group, kind) in custom:
            served = custom[(group, kind)]
            if version not in served:
                versions = [f"{group}/{served_version}" for served_version in sorted(served)]
                return [_version_problem(obj, "the CustomResourceDefinition in this commit", versions)]
            validator = served[version]
        elif schemas.api_versions(kind) and (group in schemas.groups or group in _RETIRED_GROUPS):
            return [_version_problem(obj, f"Kubernetes {schemas.version}", schemas.api_versions(kind))]
        elif group in schemas.groups:
            return [
                object_problem(
                    obj,
                    f"Kubernetes {schemas.version} has no kind {kind} in API group {group or 'core (v1)'}",
                    "Check the kind's spelling and apiVersion.",
                    ("kind",),
                )
            ]
        if validator is None:
            return []
    errors = sorted(validator.iter_errors(obj.body), key=lambda error: [str(part) for part in error.absolute_path])
    # dict.fromkeys: one problem per text (jsonschema reports each missing required field apart).
    return list(dict.fromkeys(_describe(obj, error, source) for error in errors))[:MAX_PROBLEMS_PER_OBJECT]


def _version_problem(obj: ManifestObject, where: str, api_versions: list[str]) -> ManifestProblem:
    return object_problem(
        obj,
        f"apiVersion {obj.body['apiVersion']} of {obj.key.kind} is not served by {where}",
        f"Use one of: {', '.join(api_versions) or 'none'}.",
        ("apiVersion",),
    )


def _describe(obj: ManifestObject, error: jsonschema.ValidationError, source: SourceLocator) -> ManifestProblem:
    path = tuple(error.absolute_path)
    where = dotted_path(path) or "the object"
    hidden = is_secret(obj.body)
    if error.validator == "additionalProperties":
        known = list(error.schema.get("properties", {}))
        unknown = [field for field in error.instance if field not in known]
        field = unknown[0] if unknown else "?"
        close = difflib.get_close_matches(field, known, n=1)
        action = f"Did you mean {close[0]!r}?" if close else f"Remove it; the fields here are: {', '.join(known)}."
        location = f"{where}.{field}" if path else field
        return object_problem(obj, f"{location} is not a field of {obj.key.kind} here", action, path + (field,))
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        fields = f"field {missing[0]}" if len(missing) == 1 else f"fields {', '.join(missing)}"
        return object_problem(obj, f"{where} lacks the required {fields}", "Add it.", path)
    expected = _expected_types(error)
    if expected:
        text = None if hidden else source.scalar_text(obj.doc_index, obj.root_path + path)
        got = _JSON_TYPES.get(type(error.instance), "null")
        return object_problem(
            obj, f"{where} is {got}, where {' or '.join(expected)} is expected", _type_action(error.instance, expected, text), path
        )
    if error.validator == "enum":
        choices = ", ".join(repr(choice) for choice in error.validator_value)
        return object_problem(obj, f"{where} is not one of {choices}", "Use one of them.", path)
    detail = f" ({error.validator})" if hidden else f": {error.message}"
    return object_problem(obj, f"{where} does not match the {obj.key.kind} schema{detail}", "Fix the value.", path)


def _expected_types(error: jsonschema.ValidationError) -> list[str]:
    """The JSON types the schema wanted, when the error is a type mismatch (`oneOf` covers int-or-string)."""
    if error.validator == "type":
        types = error.validator_value
    elif error.validator in ("oneOf", "anyOf") and all(set(option) <= {"type"} for option in error.validator_value):
        types = [t for option in error.validator_value for t in _as_list(option.get("type"))]
    else:
        return []
    names = {"string": "a string", "integer": "a whole number", "number": "a number", "boolean": "true or false",
             "object": "a mapping", "array": "a list"}
    return [names[t] for t in _as_list(types) if t in names]


def _type_action(instance: Any, expected: list[str], text: Optional[str]) -> str:
    if "a string" in expected and isinstance(instance, (bool, int, float)):
        if text is None:
            return "Quote the value: YAML reads it as a boolean or number."
        reading = "a boolean" if isinstance(instance, bool) else f"the number {instance!r}"
        return f'YAML reads {text} as {reading}: quote it: "{text}".'
    if isinstance(instance, str) and ("a whole number" in expected or "a number" in expected):
        return "Write a number, without quotes."
    if isinstance(instance, bool) and "true or false" not in expected:
        return "Write the value itself; YAML reads yes/no/on/off as booleans."
    return f"Write {' or '.join(expected)} here."


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if value is not None else []

