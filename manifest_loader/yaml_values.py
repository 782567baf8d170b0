"""Builds one YAML document's plain value from parser events, refusing what a manifest never needs.

PyYAML's composers are bypassed on purpose: libyaml's recurses on the C stack
and kills the process on deeply nested input, and both hand aliases on as
shared objects, so a "billion laughs" document looks small until something
serialises it. One iterative pass over the events instead checks depth, alias
expansion, tags and mapping keys, and copies each alias so no two places in
the result share a dict or list (stamping one must not change the other).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, Union

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import (
    AliasEvent,
    CollectionStartEvent,
    Event,
    MappingStartEvent,
    ScalarEvent,
)
from yaml.nodes import ScalarNode

if TYPE_CHECKING:  # libyaml's loader exists only where PyYAML was built with it
    from yaml.cyaml import CSafeLoader

MAX_DEPTH = 100  # nesting levels; real manifests, CRD schemas included, stay far below
MAX_ALIAS_NODES = 10_000  # values that aliases may add to one document

_YAML_TAG = "tag:yaml.org,2002:"
_STR = _YAML_TAG + "str"
_TIMESTAMP = _YAML_TAG + "timestamp"
_MERGE = _YAML_TAG + "merge"
_VALUE = _YAML_TAG + "value"  # the "=" key of YAML 1.1, read as the string "="
_NON_SPECIFIC = (None, "!")
_SCALAR_CONSTRUCTORS: dict[str, Callable[[SafeConstructor, ScalarNode], Any]] = {
    _YAML_TAG + "null": SafeConstructor.construct_yaml_null,
    _YAML_TAG + "bool": SafeConstructor.construct_yaml_bool,
    _YAML_TAG + "int": SafeConstructor.construct_yaml_int,
    _YAML_TAG + "float": SafeConstructor.construct_yaml_float,
}


class YamlValueError(Exception):
    """A document that parses but is not plain manifest data; `line` is 1-based."""

    def __init__(self, problem: str, action: str, event: Event) -> None:
        super().__init__(problem)
        self.problem = problem
        self.action = action
        assert event.start_mark is not None, "the parser marks every event"
        self.line = event.start_mark.line + 1


class _MergeKey:
    """The plain `<<` key, whose value's mappings are merged into the enclosing one."""


_MERGE_KEY = _MergeKey()


@dataclass
class _Built:
    value: Any
    nodes: int  # values it holds, itself included: what an alias to it adds
    height: int  # nesting levels it spans


@dataclass
class _OpenCollection:
    start: CollectionStartEvent
    value: Union[dict[str, Any], list[Any]]
    nodes: int = 1
    height: int = 1
    key: Union[str, _MergeKey, None] = None  # mapping key waiting for its value
    merged: Optional[dict[str, Any]] = None  # from `<<`; explicit keys win over these

    def add(self, child: _Built, event: Event) -> None:
        self.nodes += child.nodes
        self.height = max(self.height, child.height + 1)
        if isinstance(self.value, list):
            self.value.append(_plain(child.value, event))
        elif self.key is None:
            self.key = _mapping_key(child.value, event)
            if self.key in self.value or (self.key is _MERGE_KEY and self.merged is not None):
                shown = "<<" if self.key is _MERGE_KEY else self.key
                raise YamlValueError(
                    f"key {shown!r} appears twice in the same mapping",
                    "Keep one of them; YAML would silently drop the other.",
                    event,
                )
        elif isinstance(self.key, _MergeKey):
            self.merged = _merge_sources(child.value, event)
            self.key = None
        else:
            self.value[self.key] = _plain(child.value, event)
            self.key = None

    def finish(self) -> _Built:
        if isinstance(self.value, dict) and self.merged:
            for key, item in self.merged.items():
                self.value.setdefault(key, item)
        return _Built(self.value, self.nodes, self.height)


def build_value(root: Event, events: Iterator[Event], loader: yaml.SafeLoader | CSafeLoader) -> Any:
    """Consume the events of the node that starts with `root` and return its value.

    `loader` resolves plain scalars (its resolver) and converts them (its constructor).
    """
    open_collections: list[_OpenCollection] = []
    anchors: dict[str, _Built] = {}
    alias_nodes = 0
    event = root
    while True:
        if isinstance(event, CollectionStartEvent):
            _check_collection_tag(event)
            if len(open_collections) >= MAX_DEPTH:
                raise YamlValueError(
                    f"nesting is deeper than {MAX_DEPTH} levels",
                    "Flatten the document; no Kubernetes object needs this depth.",
                    event,
                )
            container: Union[dict[str, Any], list[Any]] = {} if isinstance(event, MappingStartEvent) else []
            open_collections.append(_OpenCollection(event, container))
            event = next(events)
            continue
        if isinstance(event, ScalarEvent):
            built = _Built(_scalar_value(event, loader), 1, 1)
            anchor = event.anchor
        elif isinstance(event, AliasEvent):
            built = _alias_target(event, anchors, open_collections)
            alias_nodes += built.nodes
            if alias_nodes > MAX_ALIAS_NODES:
                raise YamlValueError(
                    f"aliases expand to more than {MAX_ALIAS_NODES} values (a YAML bomb?)",
                    "Write the repeated parts out or reduce the use of aliases.",
                    event,
                )
            if len(open_collections) + built.height > MAX_DEPTH:
                raise YamlValueError(
                    f"alias *{event.anchor} nests the document deeper than {MAX_DEPTH} levels",
                    "Flatten the document; no Kubernetes object needs this depth.",
                    event,
                )
            built = _Built(_copy_tree(built.value), built.nodes, built.height)
            anchor = None
        else:  # the end of the innermost open collection
            finished = open_collections.pop()
            built = finished.finish()
            anchor = finished.start.anchor
        if anchor is not None:
            anchors[anchor] = built
        if not open_collections:
            return _plain(built.value, event)
        open_collections[-1].add(built, event)
        event = next(events)


def _scalar_value(event: ScalarEvent, loader: yaml.SafeLoader | CSafeLoader) -> Any:
    tag = event.tag
    if tag in _NON_SPECIFIC:
        tag = loader.resolve(ScalarNode, event.value, event.implicit)
        if tag == _TIMESTAMP:
            return event.value  # kubectl sends unquoted dates as strings too
        if tag == _MERGE:
            return _MERGE_KEY
    if tag in (_STR, _VALUE):
        return event.value
    construct = _SCALAR_CONSTRUCTORS.get(tag)
    if construct is None:
        raise _tag_not_allowed(tag, event)
    # types-PyYAML types node marks as yaml.error.Mark, but libyaml's events carry yaml._yaml.Mark, which works alike
    node = ScalarNode(tag, event.value, event.start_mark, event.end_mark)  # type: ignore[arg-type]
    return construct(loader, node)


def _check_collection_tag(event: CollectionStartEvent) -> None:
    allowed = _YAML_TAG + ("map" if isinstance(event, MappingStartEvent) else "seq")
    if event.tag not in _NON_SPECIFIC and event.tag != allowed:
        raise _tag_not_allowed(event.tag, event)


def _tag_not_allowed(tag: str, event: Event) -> YamlValueError:
    shown = "!!" + tag[len(_YAML_TAG) :] if tag.startswith(_YAML_TAG) else tag
    return YamlValueError(
        f"tag {shown} is not allowed",
        "Manifests hold plain YAML (strings, numbers, booleans, null, lists, mappings); remove the tag.",
        event,
    )


def _alias_target(event: AliasEvent, anchors: dict[str, _Built], open_collections: list[_OpenCollection]) -> _Built:
    if any(collection.start.anchor == event.anchor for collection in open_collections):
        raise YamlValueError(
            f"alias *{event.anchor} refers to a collection that contains it",
            "Remove the recursive alias; a manifest must be a finite tree.",
            event,
        )
    if event.anchor not in anchors:
        raise YamlValueError(
            f"alias *{event.anchor} has no anchor &{event.anchor} before it",
            "Define the anchor earlier in the same document or remove the alias.",
            event,
        )
    return anchors[event.anchor]


def _mapping_key(key: Any, event: Event) -> Union[str, _MergeKey]:
    if isinstance(key, (str, _MergeKey)):
        return key
    raise YamlValueError(
        f"mapping key {key!r} is not a string",
        "Quote the key; Kubernetes objects only have string keys.",
        event,
    )


def _plain(value: Any, event: Event) -> Any:
    if value is _MERGE_KEY:
        raise YamlValueError(
            "`<<` is only valid as a merge key",
            "Quote it ('<<') to use it as a string.",
            event,
        )
    return value


def _merge_sources(value: Any, event: Event) -> dict[str, Any]:
    sources = value if isinstance(value, list) else [value]
    if not all(isinstance(source, dict) for source in sources):
        raise YamlValueError(
            "the value of a `<<` merge key must be a mapping or a list of mappings",
            "Point `<<` at mappings only.",
            event,
        )
    merged: dict[str, Any] = {}
    for source in sources:  # the first source wins, as in YAML 1.1 merge
        for key, item in source.items():
            merged.setdefault(key, item)
    return merged


def _copy_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy_tree(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_tree(item) for item in value]
    return value
