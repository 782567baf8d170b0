"""One run as it is announced: the facts every sink and the Kubernetes Event are made from."""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass
from typing import Any, Optional

from reconciler.status.model import Result, RunOutcome
from reconciler.telemetry.redaction import Redactor

REPORTING_CONTROLLER = "pulumi-gitops"
# An error in a one-line summary is cut here; the full (redacted) error travels in its own field.
SUMMARY_ERROR_CHARS = 300


@dataclass(frozen=True)
class Notification:
    stack: str
    commit: Optional[str]
    result: Result
    reason: Optional[str]
    kind: str  # apply, drift or recover
    trigger: str
    changes: dict[str, int]
    duration_s: float
    error: Optional[str]
    finished_at: float
    link: Optional[str]
    recovered_from: Optional[str] = None  # the failing result this in-sync run ends

    @classmethod
    def of(cls, run: RunOutcome, link_template: Optional[str], redactor: Redactor) -> "Notification":
        # Redacted before any message cuts the error short: a secret cut in half would not be recognised.
        return cls(
            stack=run.stack, commit=run.commit, result=run.result, reason=run.reason, kind=run.kind.value,
            trigger=run.trigger, changes=run.changes.as_dict(), duration_s=run.duration_s,
            error=redactor.redact(run.error_message), finished_at=run.finished_at, link=_link(link_template, run),
        )

    @property
    def in_sync(self) -> bool:
        return self.result.in_sync

    def repeat_key(self) -> list[Any]:
        """Two runs with equal keys say the same thing: only the first is announced."""
        return [self.commit, self.result.value, self.reason, self.error]

    def recovering(self, failing: str) -> "Notification":
        return dataclasses.replace(self, recovered_from=failing)

    def headline(self) -> str:
        """`web: failed at 0123456789ab (ProgramError)` or `web: recovered (was failed): applied at 0123456789ab`."""
        state = f"recovered (was {self.recovered_from}): {self.result.value}" if self.recovered_from else self.result.value
        reason = f" ({self.reason})" if self.reason else ""
        return f"{self.stack}: {state} at {(self.commit or '-')[:12]}{reason}"

    def counts_text(self) -> str:
        return " ".join(f"{operation}={count}" for operation, count in self.changes.items() if count) or "no changes"

    def outcome(self) -> str:
        """Headline, counts and duration."""
        return f"{self.headline()}; {self.counts_text()} in {self.duration_s:.1f}s"

    def summary(self) -> str:
        """One line: the outcome and the error's last line (where a program's exception ends up)."""
        lines = [line.strip() for line in (self.error or "").splitlines() if line.strip()]
        return f"{self.outcome()}: {lines[-1][:SUMMARY_ERROR_CHARS]}" if lines else self.outcome()

    def timestamp(self) -> str:
        return datetime.datetime.fromtimestamp(self.finished_at, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _link(template: Optional[str], run: RunOutcome) -> Optional[str]:
    if template is None:
        return None
    commit = run.commit or ""
    return template.format(stack=run.stack, commit=commit, short_commit=commit[:12], result=run.result.value)
