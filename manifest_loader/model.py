"""What a load returns: validated objects with their origin, and the commit they came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple


class ObjectKey(NamedTuple):
    """Identity of an object in the cluster; namespace is "" for cluster-scoped kinds."""

    group: str
    kind: str
    namespace: str
    name: str


@dataclass(frozen=True)
class ManifestObject:
    path: str  # repo-relative, posix separators
    doc_index: int  # 0-based position in the file, empty documents included
    line: int  # 1-based line where the document's content starts
    body: dict[str, Any]  # plain data, no shared sub-trees; render_objects copies it
    key: ObjectKey
    commit: str  # 40-hex: the newest commit that changed this object's file

    @property
    def ref(self) -> str:
        return f"{self.key.kind}/{self.key.name}"


@dataclass(frozen=True)
class LoadedManifests:
    commit: str  # 40-hex HEAD commit whose blobs were read, the deployed revision
    dirty: bool  # the manifests folder in the work tree differs from that commit
    objects: list[ManifestObject]  # by file path, then document index
    dirty_paths: list[str]  # "<path> (<state>)" for each uncommitted change, for logging
