"""Where a field of a document is written: its line, and a scalar's text as written (`yes`, `1.10`).

Only asked for when there is a problem to report, so the file is parsed again
then rather than keeping a position for every value of every load.
"""

from __future__ import annotations

from typing import Iterator, Optional, Union

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

FieldPath = tuple[Union[str, int], ...]


class SourceLocator:
    def __init__(self, text: str) -> None:
        self._text = text
        self._documents: list[Node] = []
        self._composer: Optional[Iterator[Node]] = None

    def line(self, doc_index: int, path: FieldPath) -> Optional[int]:
        """1-based line of the deepest node of path that exists: its key's line for a mapping's value."""
        found = self._deepest(doc_index, path)
        return None if found is None else found[0].start_mark.line + 1

    def scalar_text(self, doc_index: int, path: FieldPath) -> Optional[str]:
        """The scalar at path exactly as written, or None when path is not a plain scalar."""
        found = self._deepest(doc_index, path, whole=True)
        return found[1].value if found is not None and isinstance(found[1], ScalarNode) else None

    def _deepest(self, doc_index: int, path: FieldPath, whole: bool = False) -> Optional[tuple[Node, Node]]:
        """(where it is written, the node) for the deepest part of path found, or the whole path only."""
        if not self._compose_up_to(doc_index):
            return None
        found = (self._documents[doc_index], self._documents[doc_index])
        for part in path:
            child = _child(found[1], part)
            if child is None:
                return None if whole else found
            found = child
        return found


    def _compose_up_to(self, doc_index: int) -> bool:
        """Compose documents up to doc_index and no further: one after it may be one that yaml_values refused
        (too deep for libyaml's recursive composer). Problems are only ever located in documents that loaded."""
        if self._composer is None:
            self._composer = yaml.compose_all(self._text, Loader=_LOADER)
        try:
            while len(self._documents) <= doc_index:
                self._documents.append(next(self._composer))
        except (StopIteration, yaml.YAMLError):
            return False
        return True


def _child(node: Node, part: Union[str, int]) -> Optional[tuple[Node, Node]]:
    if isinstance(node, MappingNode) and isinstance(part, str):
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == part:
                return key, value
    if isinstance(node, SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part], node.value[part]
    return None
