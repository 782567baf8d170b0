"""The JSON schemas of one Kubernetes version's built-in kinds, from the `kubernetes-validate` package.

The package ships the OpenAPI definitions of each release converted to JSON
Schema; the "strict" set refuses unknown fields, as `kubectl apply` with
server-side field validation does. Each kind's schema is built once per load
with every `$ref` inlined: the validator then never resolves a reference
while it walks an object (a third of the time on 3,000 objects). Recursive
types (a CRD's JSONSchemaProps) are cut at the second visit and accept
anything there.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any, Optional

import jsonschema

DEFAULT_KUBERNETES_VERSION = "1.34"
# Keywords the validator never needs: smaller inlined schemas, and formats are not checked by jsonschema anyway.
_DROPPED_KEYWORDS = frozenset({"description", "format", "x-kubernetes-group-version-kind"})


class UnsupportedVersion(ValueError):
    """The installed kubernetes-validate has no schemas for this Kubernetes version."""


def supported_versions() -> list[str]:
    root = resources.files("kubernetes_validate") / "kubernetes-json-schema"
    names = (entry.name for entry in root.iterdir())
    found = {name[1:].split("-")[0].rsplit(".", 1)[0] for name in names if name.endswith("-local-strict")}
    return sorted(found, key=lambda version: tuple(int(part) for part in version.split(".")))


class KubernetesSchemas:
    """Validators of the built-in kinds of one Kubernetes minor version, built on first use."""

    def __init__(self, version: str) -> None:
        self.version = version
        self._definitions = _definitions(version)
        self._by_kind: dict[tuple[str, str], dict[str, str]] = {}  # (group, kind) -> version -> definition
        for name, definition in self._definitions.items():
            for gvk in definition.get("x-kubernetes-group-version-kind", ()):
                self._by_kind.setdefault((gvk["group"], gvk["kind"]), {})[gvk["version"]] = name
        self.groups = frozenset(group for group, _ in self._by_kind)
        self._validators: dict[str, jsonschema.protocols.Validator] = {}

    def served_versions(self, group: str, kind: str) -> list[str]:
        """The versions this release serves the kind in; empty when it is not a built-in kind."""
        return sorted(self._by_kind.get((group, kind), {}))

    def api_versions(self, kind: str) -> list[str]:
        """Every apiVersion this release serves the kind in, whatever its group."""
        return sorted(
            f"{group}/{version}" if group else version
            for (group, known), versions in self._by_kind.items()
            if known == kind
            for version in versions
        )

    def validator(self, group: str, version: str, kind: str) -> Optional[jsonschema.protocols.Validator]:
        name = self._by_kind.get((group, kind), {}).get(version)
        if name is None:
            return None
        if name not in self._validators:
            schema = _inline(self._definitions, self._definitions[name], (name,))
            schema["type"] = "object"  # the top-level "null" the definitions allow is never a manifest
            self._validators[name] = jsonschema.Draft202012Validator(schema)
        return self._validators[name]


@lru_cache(maxsize=4)
def schemas_for(version: str) -> KubernetesSchemas:
    """One set per version and process: the program and a benchmark's runs share what was built."""
    return KubernetesSchemas(version)


@lru_cache(maxsize=4)
def _definitions(version: str) -> dict[str, Any]:
    if version not in supported_versions():
        raise UnsupportedVersion(
            f"kubernetes-validate has no schemas for Kubernetes {version}; it has {', '.join(supported_versions())}"
        )
    path = resources.files("kubernetes_validate") / "kubernetes-json-schema" / f"v{version}.0-local-strict"
    return json.loads((path / "_definitions.json").read_text(encoding="utf-8"))["$defs"]


def _inline(definitions: dict[str, Any], schema: Any, seen: tuple[str, ...]) -> Any:
    """The schema with every reference replaced by a copy of its definition."""
    if isinstance(schema, list):
        return [_inline(definitions, item, seen) for item in schema]
    if not isinstance(schema, dict):
        return schema
    reference = schema.get("$ref")
    if reference is not None:
        name = reference.rpartition("/")[2]
        return {} if name in seen else _inline(definitions, definitions[name], seen + (name,))
    inlined = {}
    for keyword, value in schema.items():
        if keyword in _DROPPED_KEYWORDS:
            continue
        if keyword in ("properties", "patternProperties"):  # field names, any of which may be "description"
            inlined[keyword] = {field: _inline(definitions, item, seen) for field, item in value.items()}
        else:
            inlined[keyword] = _inline(definitions, value, seen)
    return inlined
