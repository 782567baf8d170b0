"""What a load returns: validated objects with their origin, and the commit they came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Optional, Union


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
    item_index: Optional[int] = None  # position in the items of a `kind: List` document

    @property
    def ref(self) -> str:
        return f"{self.key.kind}/{self.key.name}"

    @property
    def source(self) -> str:
        """Where the object is written: `<path>#<document>`, then `.items[<i>]` for an item of a List."""
        item = f".items[{self.item_index}]" if self.item_index is not None else ""
        return f"{self.path}#{self.doc_index}{item}"

    @property
    def root_path(self) -> tuple[Union[str, int], ...]:
        """The object's own path inside its document."""
        return () if self.item_index is None else ("items", self.item_index)


@dataclass(frozen=True)
class LoadedManifests:
    commit: str  # 40-hex HEAD commit whose blobs were read, the deployed revision
    dirty: bool  # the manifests folder in the work tree differs from that commit
    objects: list[ManifestObject]  # by file path, then document index
    dirty_paths: list[str]  # "<path> (<state>)" for each uncommitted change, for logging
