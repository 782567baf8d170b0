"""Problems found in the manifests, and the one error that carries all of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence


@dataclass(frozen=True)
class ManifestProblem:
    """One problem, located as precisely as it is known.

    Renders as `<path>: document <i> (line <n>): <Kind>/<name>: <problem>. <action>`,
    leaving out the parts that are not known.
    """

    problem: str
    action: str = ""
    path: Optional[str] = None
    doc_index: Optional[int] = None
    line: Optional[int] = None
    object_ref: Optional[str] = None  # "Kind/name"

    def __str__(self) -> str:
        parts = [part for part in (self.path, self._position(), self.object_ref) if part]
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


class ManifestError(Exception):
    """Every problem found in one load or render; nothing may be applied."""

    def __init__(self, problems: Sequence[ManifestProblem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        heading = f"{count} problem{'s' if count != 1 else ''} in the Kubernetes manifests:"
        super().__init__("\n".join([heading, *(f"  {problem}" for problem in self.problems)]))
