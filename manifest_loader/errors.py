"""Problems found in the manifests, and the one error that carries all of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Sequence, Union

if TYPE_CHECKING:
    from .model import ManifestObject


@dataclass(frozen=True)
class ManifestProblem:
    """One problem, located as precisely as it is known.

    Renders as `<path>: document <i> (line <n>): items[<j>]: <Kind>/<name>: <problem>. <action>`,
    leaving out the parts that are not known. `field_path` is where in the
    document the problem is; the loader turns it into the line.
    """

    problem: str
    action: str = ""
    path: Optional[str] = None
    doc_index: Optional[int] = None
    line: Optional[int] = None
    object_ref: Optional[str] = None  # "Kind/name"
    item_index: Optional[int] = None  # position in the items of a List document
    field_path: tuple[Union[str, int], ...] = ()  # keys and indexes from the document's root

    def __str__(self) -> str:
        item = f"items[{self.item_index}]" if self.item_index is not None else None
        parts = [part for part in (self.path, self._position(), item, self.object_ref) if part]
        text = f"{self.problem}." if not self.action else f"{self.problem}. {self.action}"
        return ": ".join([*parts, text])

    def _position(self) -> str:
        if self.doc_index is not None and self.line is not None:
            return f"document {self.doc_index} (line {self.line})"
        if self.doc_index is not None:
            return f"document {self.doc_index}"
        if self.line is not None:
            return f"line {self.line}"
        return ""


def dotted_path(path: Sequence[Union[str, int]]) -> str:
    """`spec.containers[0].image` for ("spec", "containers", 0, "image")."""
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")


class ManifestError(Exception):
    """Every problem found in one load or render; nothing may be applied."""

    def __init__(self, problems: Sequence[ManifestProblem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        heading = f"{count} problem{'s' if count != 1 else ''} in the Kubernetes manifests:"
        super().__init__("\n".join([heading, *(f"  {problem}" for problem in self.problems)]))


def object_problem(
    obj: ManifestObject, problem: str, action: str, field_path: tuple[Union[str, int], ...] = ()
) -> ManifestProblem:
    """A problem of one loaded object, located at field_path inside it."""
    return ManifestProblem(
        problem,
        action,
        path=obj.path,
        doc_index=obj.doc_index,
        line=obj.line,
        object_ref=obj.ref,
        item_index=obj.item_index,
        field_path=obj.root_path + field_path,
    )
