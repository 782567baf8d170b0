"""Turns parsed documents into Kubernetes objects: required fields, identity, scope and namespace.

Namespaced objects without metadata.namespace get the default namespace.
Cluster-scoped kinds (a fixed list of built-in ones, matched on API group and
kind) are never given one; a namespace the user wrote on them is left as
written, and the object's key ignores it, as the API server does.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, TypeGuard, Union

from .errors import ManifestProblem, dotted_path, object_problem
from .kubernetes_names import (
    ANNOTATIONS_MAX_BYTES,
    label_maps,
    label_value_problem,
    name_problem,
    namespace_problem,
    qualified_key_problem,
)
from .model import ManifestObject, ObjectKey
from .placeholders import is_secret, is_secret_value_location, malformed_placeholders, secret_placeholders
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
# Set by the API server: what `kubectl get -o yaml` writes, which an apply would send back as a stale precondition.
_SERVER_FIELDS = ("uid", "resourceVersion")

Location = tuple[Union[str, int], ...]


def to_objects(
    path: str, document: YamlDocument, default_namespace: str, commit: str
) -> tuple[list[ManifestObject], list[ManifestProblem]]:
    """The document's object, or the items of a List document, each validated; and every problem found."""
    body = document.data
    if not _is_list(body):
        obj, problems = _to_object(path, document, body, None, default_namespace, commit)
        return ([obj] if obj is not None else []), problems
    items = body["items"]
    if not isinstance(items, list):
        return [], [
            ManifestProblem(
                f"items of this {body['kind']} is a {_type_name(items)}, not a list",
                "Write the objects as a list under items.",
                path=path,
                doc_index=document.index,
                line=document.line,
                field_path=("items",),
            )
        ]
    objects, problems = [], []
    for index, item in enumerate(items):
        obj, item_problems = _to_object(path, document, item, index, default_namespace, commit)
        problems += item_problems
        if obj is not None:
            objects.append(obj)
    return objects, problems


def _is_list(body: Any) -> bool:
    """`kind: List` and the `<Kind>List` kinds that kubectl writes: a wrapper of items, itself never deployed."""
    if not isinstance(body, dict) or "items" not in body:
        return False
    kind, metadata = body.get("kind"), body.get("metadata")
    unnamed = not isinstance(metadata, dict) or "name" not in metadata
    return kind == "List" or (isinstance(kind, str) and kind.endswith("List") and unnamed)


def _to_object(
    path: str, document: YamlDocument, body: Any, item_index: Optional[int], default_namespace: str, commit: str
) -> tuple[Optional[ManifestObject], list[ManifestProblem]]:
    """The validated object, with its namespace defaulted in place, or None and every problem found."""
    kind = body.get("kind") if isinstance(body, dict) else None
    metadata = body.get("metadata") if isinstance(body, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    root: Location = () if item_index is None else ("items", item_index)

    def problem(text: str, action: str, field_path: Location = ()) -> ManifestProblem:
        return ManifestProblem(
            text,
            action,
            path=path,
            doc_index=document.index,
            line=document.line,
            object_ref=_object_ref(kind, name),
            item_index=item_index,
            field_path=root + field_path,
        )

    if not isinstance(body, dict):
        return None, [problem(f"the document is a {_type_name(body)}, not a mapping", _OBJECT_SHAPE)]
    problems = [problem(*found) for found in _field_problems(body)]
    if problems:
        return None, problems

    group = body["apiVersion"].rpartition("/")[0]
    problems = [problem(*found) for found in _rule_problems(group, body)]
    if problems:
        return None, problems
    checked_metadata: dict[str, Any] = body["metadata"]  # a mapping with a string name: _field_problems found none
    if (group, kind) in CLUSTER_SCOPED_KINDS:
        namespace = ""
    else:
        if checked_metadata.get("namespace") is None:
            checked_metadata["namespace"] = default_namespace
        namespace = checked_metadata["namespace"]
    key = ObjectKey(group, body["kind"], namespace, checked_metadata["name"])
    return ManifestObject(path, document.index, document.line, body, key, commit, item_index), []


def duplicate_problems(objects: Iterable[ManifestObject]) -> list[ManifestProblem]:
    """A problem on every object whose key an earlier object already has."""
    first_by_key: dict[ObjectKey, ManifestObject] = {}
    problems = []
    for obj in objects:
        first = first_by_key.setdefault(obj.key, obj)
        if first is not obj:
            problems.append(
                object_problem(
                    obj,
                    f"{first.path} document {first.doc_index}{_item(first)} (line {first.line}) already defines"
                    f" this object ({_describe_key(obj.key)})",
                    "Remove one of the two or give them different names.",
                )
            )
    return problems


def _item(obj: ManifestObject) -> str:
    return f" items[{obj.item_index}]" if obj.item_index is not None else ""


def _describe_key(key: ObjectKey) -> str:
    group = f"group {key.group}" if key.group else "core group"
    return f"{group}, namespace {key.namespace}" if key.namespace else f"{group}, cluster-scoped"


def _field_problems(body: dict[str, Any]) -> list[tuple[str, str, Location]]:
    """Shape problems: what an object must have for the rest of the checks to make sense."""
    problems: list[tuple[str, str, Location]] = []
    api_version = body.get("apiVersion")
    if not _non_empty_string(api_version):
        problems.append(
            ("apiVersion is missing or not a non-empty string", "Set apiVersion, e.g. apps/v1 or v1.", ("apiVersion",))
        )
    elif not all(api_version.split("/")) or api_version.count("/") > 1:
        problems.append(
            (f"apiVersion {api_version!r} is not <group>/<version> or <version>", "Fix apiVersion.", ("apiVersion",))
        )
    if not _non_empty_string(body.get("kind")):
        problems.append(("kind is missing or not a non-empty string", "Set kind, e.g. Deployment.", ("kind",)))
    metadata = body.get("metadata")
    if not isinstance(metadata, dict):
        problems.append(("metadata is missing or not a mapping", "Add metadata with at least a name.", ()))
        return problems
    if not _non_empty_string(metadata.get("name")):
        problems.append(("metadata.name is missing or not a non-empty string", "Set metadata.name.", ("metadata",)))
    namespace = metadata.get("namespace")
    if namespace is not None and not _non_empty_string(namespace):
        problems.append(
            (
                "metadata.namespace is not a non-empty string",
                "Set it to a namespace name or remove it.",
                ("metadata", "namespace"),
            )
        )
    for field in ("labels", "annotations"):
        problems.extend(_string_map_problems(("metadata", field), metadata.get(field)))
    secret = is_secret(body)
    for location, value in malformed_placeholders(body):
        shown = "" if secret else f" is {value!r}, which"
        problems.append(
            (
                f"{dotted_path(location)}{shown} mentions ${{image:...}} or ${{secret:...}} but is not exactly one placeholder",
                "Write the whole value as ${image:NAME} (NAME of lowercase letters, digits and '-')"
                " or ${secret:NAME} (letters, digits, '-' and '_').",
                location,
            )
        )
    for location, _ in secret_placeholders(body):
        if not is_secret_value_location(body, location):
            problems.append(
                (
                    f"{dotted_path(location)} holds a ${{secret:...}} placeholder outside a Secret's data or stringData",
                    "Put the value in a Secret (stringData: {key: ${secret:NAME}}) and refer to it,"
                    " e.g. env valueFrom.secretKeyRef.",
                    location,
                )
            )
    return problems


def _rule_problems(group: str, body: dict[str, Any]) -> list[tuple[str, str, Location]]:
    """What the API server would refuse in the metadata: names, label and annotation keys and values."""
    kind, metadata = body["kind"], body["metadata"]
    problems: list[tuple[str, str, Location]] = []
    why = name_problem(group, kind, metadata["name"])
    if why:
        problems.append((f"metadata.name {metadata['name']!r} {why}", f"Rename the {kind}.", ("metadata", "name")))
    namespace = metadata.get("namespace")
    if namespace is not None and namespace_problem(namespace):
        problems.append(
            (
                f"metadata.namespace {namespace!r} {namespace_problem(namespace)}",
                "Use an existing namespace's name.",
                ("metadata", "namespace"),
            )
        )
    for field in _SERVER_FIELDS:
        if field in metadata:
            problems.append(
                (
                    f"metadata.{field} is set",
                    "Remove it: the API server sets it (`kubectl get -o yaml` writes it; copy only what you mean to own).",
                    ("metadata", field),
                )
            )
    for location, labels in label_maps(body):
        if not isinstance(labels, dict):
            continue  # not a mapping: the schema check names it
        where = tuple(location.split("."))
        for key, value in labels.items():
            if qualified_key_problem(key):
                problems.append((f"{location} key {key!r} {qualified_key_problem(key)}", "Fix the label key.", where))
            if isinstance(value, str) and label_value_problem(value):
                problems.append(
                    (f"{location}.{key} value {value!r} {label_value_problem(value)}", "Shorten or fix it.", where + (key,))
                )
    annotations = metadata.get("annotations") or {}
    for key in annotations:
        if qualified_key_problem(key):
            problems.append(
                (
                    f"metadata.annotations key {key!r} {qualified_key_problem(key)}",
                    "Fix the annotation key.",
                    ("metadata", "annotations"),
                )
            )
    size = sum(len(key.encode()) + len(value.encode()) for key, value in annotations.items())
    if size > ANNOTATIONS_MAX_BYTES:
        problems.append(
            (
                f"metadata.annotations hold {size} bytes, over the limit of {ANNOTATIONS_MAX_BYTES}",
                "Move the large values to a ConfigMap.",
                ("metadata", "annotations"),
            )
        )
    return problems


def _string_map_problems(location: Location, value: Any) -> list[tuple[str, str, Location]]:
    if value is None:
        return []
    dotted = dotted_path(location)
    if not isinstance(value, dict):
        return [(f"{dotted} is a {_type_name(value)}, not a mapping", f"Write {dotted} as key: value pairs.", location)]
    return [
        (f"{dotted}.{key} is a {_type_name(item)}, not a string", "Quote the value.", location + (key,))
        for key, item in value.items()
        if not isinstance(item, str)
    ]



def _non_empty_string(value: Any) -> TypeGuard[str]:
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
