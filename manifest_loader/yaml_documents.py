"""Splits one manifest file into its YAML documents, as plain data, with their positions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import yaml
from yaml.events import DocumentStartEvent

from .errors import ManifestProblem
from .yaml_values import YamlValueError, build_value

# libyaml's parser when PyYAML was built with it (several times faster); both are safe loaders.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class YamlDocument:
    index: int  # 0-based position in the file, empty documents included
    line: int  # 1-based line where the document's content starts
    data: Any  # plain data; None for an empty document


def parse_documents(path: str, raw: bytes) -> tuple[list[YamlDocument], list[ManifestProblem]]:
    """Every document of the file, up to the first problem, which ends reading the file."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return [], [
            ManifestProblem(
                f"byte {err.start} is not valid UTF-8",
                "Save the file as UTF-8.",
                path=path,
                line=raw[: err.start].count(b"\n") + 1,
            )
        ]
    documents: list[YamlDocument] = []
    try:
        _read_documents(text, documents)
    except YamlValueError as err:
        return documents, [ManifestProblem(err.problem, err.action, path=path, doc_index=len(documents), line=err.line)]
    except yaml.YAMLError as err:
        return documents, [
            ManifestProblem(
                f"invalid YAML: {_describe(err)}",
                "Fix the syntax at that line.",
                path=path,
                doc_index=len(documents),
                line=_error_line(err, text),
            )
        ]
    return documents, []


def _read_documents(text: str, documents: list[YamlDocument]) -> None:
    """Append each document in turn, so that those before an error are kept."""
    loader = _LOADER(text)
    try:
        events = iter(loader.get_event, None)  # get_event returns None after the stream's end
        for event in events:
            if isinstance(event, DocumentStartEvent):
                root = next(events)
                value = build_value(root, events, loader)
                documents.append(YamlDocument(len(documents), root.start_mark.line + 1, value))
    finally:
        loader.dispose()


def _describe(err: yaml.YAMLError) -> str:
    if isinstance(err, yaml.MarkedYAMLError):
        return " ".join(part for part in (err.context, err.problem) if part)
    if isinstance(err, yaml.reader.ReaderError):
        return f"character U+{ord(_refused_character(err)):04X} is not allowed in YAML"
    return str(err)


def _error_line(err: yaml.YAMLError, text: str) -> Optional[int]:
    if isinstance(err, yaml.MarkedYAMLError) and err.problem_mark is not None:
        return err.problem_mark.line + 1
    if isinstance(err, yaml.reader.ReaderError):
        # Its position counts bytes in libyaml and characters in PyYAML; the
        # first occurrence of the refused character is the one reported in both.
        return text[: text.find(_refused_character(err))].count("\n") + 1
    return None


def _refused_character(err: yaml.reader.ReaderError) -> str:
    return chr(err.character) if isinstance(err.character, int) else err.character
