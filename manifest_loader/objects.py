"""Turns parsed documents into Kubernetes objects: required fields, identity, scope and namespace.

Namespaced objects without metadata.namespace get the default namespace.
Cluster-scoped kinds (a fixed list of built-in ones, matched on API group and
kind) are never given one; a namespace the user wrote on them is left as
written, and the object's key ignores it, as the API server does.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

from .errors import ManifestProblem
from .model import ManifestObject, ObjectKey
from .placeholders import malformed_placeholders
from .yaml_documents import YamlDocument

CLUSTER_SCOPED_KINDS = frozenset(
    {
        ("", "Namespace"),
        ("", "Node"),
        ("", "PersistentVolume"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("storage.k8s.io", "StorageClass"),
        ("storage.k8s.io", "CSIDriver"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("networking.k8s.io", "IngressClass"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("apiregistration.k8s.io", "APIService"),
        ("node.k8s.io", "RuntimeClass"),
    }
)

_OBJECT_SHAPE = "Each document must be one Kubernetes object: a mapping with apiVersion, kind and metadata.name."


def to_object(
    path: str, document: YamlDocument, default_namespace: str, commit: str
) -> tuple[Optional[ManifestObject], list[ManifestProblem]]:
    """The validated object, with its namespace defaulted in place, or None and every problem found."""
    body = document.data
    kind = body.get("kind") if isinstance(body, dict) else None
    metadata = body.get("metadata") if isinstance(body, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None

    def problem(text: str, action: str) -> ManifestProblem:
        return ManifestProblem(
            text,
            action,
            path=path,
            doc_index=document.index,
            line=document.line,
            object_ref=_object_ref(kind, name),
        )

    if not isinstance(body, dict):
        return None, [problem(f"the document is a {_type_name(body)}, not a mapping", _OBJECT_SHAPE)]
    problems = [problem(text, action) for text, action in _field_problems(body)]
    if problems:
        return None, problems

    group = body["apiVersion"].rpartition("/")[0]
    if (group, kind) in CLUSTER_SCOPED_KINDS:
        namespace = ""
    else:
        if metadata.get("namespace") is None:
            metadata["namespace"] = default_namespace
        namespace = metadata["namespace"]
    key = ObjectKey(group, kind, namespace, name)
    return ManifestObject(path, document.index, document.line, body, key, commit), []


def duplicate_problems(objects: Iterable[ManifestObject]) -> list[ManifestProblem]:
    """A problem on every object whose key an earlier object already has."""
    first_by_key: dict[ObjectKey, ManifestObject] = {}
    problems = []
    for obj in objects:
        first = first_by_key.setdefault(obj.key, obj)
        if first is not obj:
            problems.append(
                ManifestProblem(
                    f"{first.path} document {first.doc_index} (line {first.line}) already defines"
                    f" this object ({_describe_key(obj.key)})",
                    "Remove one of the two or give them different names.",
                    path=obj.path,
                    doc_index=obj.doc_index,
                    line=obj.line,
                    object_ref=obj.ref,
                )
            )
    return problems


def _describe_key(key: ObjectKey) -> str:
    group = f"group {key.group}" if key.group else "core group"
    return f"{group}, namespace {key.namespace}" if key.namespace else f"{group}, cluster-scoped"


def _field_problems(body: dict[str, Any]) -> list[tuple[str, str]]:
    problems = []
    api_version = body.get("apiVersion")
    if not _non_empty_string(api_version):
        problems.append(("apiVersion is missing or not a non-empty string", "Set apiVersion, e.g. apps/v1 or v1."))
    elif not all(api_version.split("/")) or api_version.count("/") > 1:
        problems.append((f"apiVersion {api_version!r} is not <group>/<version> or <version>", "Fix apiVersion."))
    if not _non_empty_string(body.get("kind")):
        problems.append(("kind is missing or not a non-empty string", "Set kind, e.g. Deployment."))
    metadata = body.get("metadata")
    if not isinstance(metadata, dict):
        problems.append(("metadata is missing or not a mapping", "Add metadata with at least a name."))
        return problems
    if not _non_empty_string(metadata.get("name")):
        problems.append(("metadata.name is missing or not a non-empty string", "Set metadata.name."))
    namespace = metadata.get("namespace")
    if namespace is not None and not _non_empty_string(namespace):
        problems.append(("metadata.namespace is not a non-empty string", "Set it to a namespace name or remove it."))
    for field in ("labels", "annotations"):
        problems.extend(_string_map_problems(f"metadata.{field}", metadata.get(field)))
    for location, value in malformed_placeholders(body):
        problems.append(
            (
                f"{location} is {value!r}, which mentions ${{image:...}} but is not exactly one placeholder",
                "Write the whole value as ${image:NAME}, NAME of lowercase letters, digits and '-'.",
            )
        )
    return problems


def _string_map_problems(location: str, value: Any) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, dict):
        return [(f"{location} is a {_type_name(value)}, not a mapping", f"Write {location} as key: value pairs.")]
    return [
        (f"{location}.{key} is a {_type_name(item)}, not a string", "Quote the value.")
        for key, item in value.items()
        if not isinstance(item, str)
    ]


def _non_empty_string(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _object_ref(kind: Any, name: Any) -> Optional[str]:
    kind_text = kind if _non_empty_string(kind) else None
    name_text = name if _non_empty_string(name) else None
    if kind_text and name_text:
        return f"{kind_text}/{name_text}"
    return kind_text or (f"?/{name_text}" if name_text else None)


def _type_name(value: Any) -> str:
    names = {dict: "mapping", list: "list", str: "string", bool: "boolean", int: "number", float: "number"}
    return names.get(type(value), "null" if value is None else type(value).__name__)
