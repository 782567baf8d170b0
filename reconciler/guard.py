"""The deletion guard: a run that deletes or replaces more than the stack allows needs a commit that says so.

It only reads. Its preview (the program and the engine once more) is paid only when something can go
away: when a commit changes nothing but Kubernetes manifests under the stack's `guard_manifests` folders,
the objects of the two commits tell it without the engine: one that is gone is a delete, and one whose
change touches a field the kubernetes provider replaces the object for (manifest_loader.provider_replacements)
is a replacement; either needs the preview.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any, Iterable, Optional

from manifest_loader.provider_replacements import REPLACED_ON
from manifest_loader.yaml_documents import parse_documents
from reconciler.settings import StackSpec
from reconciler.workspace import Workspace

Identity = tuple[str, str, str, str]  # apiVersion group, kind, namespace, name


def why_preview(workspace: Workspace, spec: StackSpec, last_applied: Optional[str], head: str, config_changed: bool) -> Optional[str]:
    """Why the guard must preview this run; None when the object sets show nothing can be deleted or replaced."""
    if last_applied is None:
        return None  # nothing is applied yet: there is nothing to delete
    if config_changed:
        return "the stack's config changed"
    if not spec.guard_manifests:
        return "no guard_manifests folders are configured"
    changed = workspace.changed_files(last_applied, head)
    if changed is None:
        return f"the last applied commit {last_applied[:12]} is not in the checkout"
    outside = [path for path in changed if not _under(path, spec.guard_manifests)]
    if outside:
        return f"{outside[0]} changed (not a manifest)"
    before: dict[Identity, dict] = {}
    after: dict[Identity, dict] = {}
    for path in changed:
        for commit, found in ((last_applied, before), (head, after)):
            text = workspace.file_at(commit, path)
            objects = None if text is None else declared_objects(path, text)
            if text is not None and objects is None:
                return f"{path} at {commit[:12]} cannot be read as manifests"
            found.update(objects or {})
    gone = before.keys() - after.keys()
    if gone:
        return f"{len(gone)} object(s) are no longer in the manifests"
    for identity in before.keys() & after.keys():
        field = replacing_change(identity, before[identity], after[identity])
        if field is not None:
            return f"{identity[1]}/{identity[3]}: {field} changed, which the provider applies as a replacement"
    return None


def declared_objects(path: str, text: str) -> Optional[dict[Identity, dict]]:
    """The objects a manifest file declares, by identity (List items expanded); None when it is not plain manifests."""
    documents, problems = parse_documents(path, text.encode("utf-8"))
    if problems:
        return None
    found: dict[Identity, dict] = {}
    for body in _objects(document.data for document in documents):
        metadata = body["metadata"] if isinstance(body.get("metadata"), dict) else {}
        group = str(body.get("apiVersion", "")).rpartition("/")[0]
        found[(group, str(body.get("kind")), str(metadata.get("namespace") or ""), str(metadata.get("name")))] = body
    return found


def replacing_change(identity: Identity, old: dict, new: dict) -> Optional[str]:
    """The first field whose change the kubernetes provider applies as a delete and create, if any changed."""
    group, kind = identity[0], identity[1]
    for field in REPLACED_ON.get((group, kind), ()):
        # A ConfigMap's or Secret's data is replaced only when the object is immutable; other changes are in place.
        if kind in ("ConfigMap", "Secret") and field != "type" and not (old.get("immutable") or new.get("immutable")):
            continue
        if _at(old, field) != _at(new, field):
            return field
    return None


def _at(body: Any, field: str) -> Any:
    for part in field.split("."):
        body = body.get(part) if isinstance(body, dict) else None
    return body


def _objects(data: Iterable[object]) -> Iterable[dict]:
    for body in data:
        if not isinstance(body, dict):
            continue
        if str(body.get("kind", "")).endswith("List") and isinstance(body.get("items"), list):
            yield from _objects(body["items"])
        else:
            yield body


def _under(path: str, folders: tuple[str, ...]) -> bool:
    parts = PurePosixPath(path).parts
    return any(parts[: len(PurePosixPath(folder).parts)] == PurePosixPath(folder).parts for folder in folders)
