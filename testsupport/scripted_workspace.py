"""A workspace whose answers a test scripts: the reconciler's steps run against it in milliseconds.

Each method answers from its queue of scripted results (a value to return, or an exception to raise),
else with a default that means "it worked". Every call is written down in order.
"""

from __future__ import annotations

from collections import defaultdict, deque
from typing import Any, Optional

from reconciler.engine.operations import EngineReport, PreviewReport
from reconciler.engine.recovery import Recovered
from reconciler.settings import StackSpec
from reconciler.status.model import ChangeCounts


class ScriptedWorkspace:
    def __init__(self, head: str) -> None:
        self.head = head
        self.calls: list[tuple[str, Any]] = []
        self.files: dict[tuple[str, str], str] = {}  # (commit, path) -> text
        self.changes: dict[tuple[str, str], list[str]] = {}  # (old, new) -> changed paths
        self.trailer: Optional[int] = None
        self.outputs: Any = None  # what outputs_for_units answers (None: a stack without units), or raises
        self.ancestry: set[tuple[str, str]] = set()  # (commit, descendant) pairs `contains` answers True for
        self.prepared: list[StackSpec] = []
        self._script: dict[str, deque] = defaultdict(deque)

    def script(self, method: str, *answers: Any) -> "ScriptedWorkspace":
        self._script[method].extend(answers)
        return self

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def _answer(self, method: str, argument: Any, default: Any) -> Any:
        self.calls.append((method, argument))
        if self._script[method]:
            answer = self._script[method].popleft()
            if isinstance(answer, BaseException):
                raise answer
            return answer
        return default

    def find_head(self) -> str:
        return self._answer("find_head", None, self.head)

    def check_out(self, commit: str) -> None:
        self._answer("check_out", commit, None)

    def changed_files(self, old: str, new: str) -> Optional[list[str]]:
        return self._answer("changed_files", (old, new), self.changes.get((old, new)))

    def contains(self, commit: str, descendant: str) -> bool:
        return self._answer("contains", (commit, descendant), (commit, descendant) in self.ancestry)

    def file_at(self, commit: str, path: str) -> Optional[str]:
        return self.files.get((commit, path))

    def allowed_deletes(self, old: Optional[str], new: str) -> Optional[int]:
        return self.trailer

    def prepare(self, spec: StackSpec) -> None:
        self.prepared.append(spec)
        self._answer("prepare", None, None)

    def preview(self, commit: str, refresh: bool) -> PreviewReport:
        return self._answer("preview", commit, PreviewReport(ChangeCounts(same=1)))

    def up(self, commit: str, refresh: bool) -> EngineReport:
        return self._answer("up", (commit, refresh), EngineReport(ChangeCounts(create=1), [{"urn": "urn:a", "op": "create"}]))

    def drift(self, commit: str) -> EngineReport:
        return self._answer("drift", commit, EngineReport(ChangeCounts()))

    def outputs_for_units(self) -> Optional[dict[str, Any]]:
        if isinstance(self.outputs, BaseException):
            raise self.outputs
        return self.outputs  # not in `calls`: the order tests check is the engine's

    def recover(self) -> Recovered:
        return self._answer("recover", None, Recovered(released_locks=1, cleared_operations=0))
