"""The deletion guard step of a reconcile: a preview judged against the stack's threshold and the commits' trailers."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional

from reconciler.engine import operations
from reconciler.engine.operations import EngineReport, OperationFailed, PreviewReport
from reconciler.engine.stack_session import StackSession
from reconciler.policy.deletion_guard import GuardVerdict, judge
from reconciler.source.checkout import StackCheckout
from pr_preview.summary import ChangeCounts
from reconciler.telemetry.redaction import Redactor

log = logging.getLogger("reconciler")


@dataclass
class Guarded:
    verdict: GuardVerdict
    changes: ChangeCounts  # what was applied to judge, then what the judged preview shows
    settled: EngineReport  # applied before judging (nothing, unless the first preview could not plan its deletes)
    doomed: list[dict[str, str]]  # deleted or replaced in the judged preview


def guard(
    session: StackSession, checkout: StackCheckout, redactor: Redactor, last_applied: Optional[str], head: str, refresh: bool
) -> Guarded:
    threshold = session.spec.deletion_guard
    trailer = checkout.allowed_deletes(last_applied, head)
    report = operations.preview(session, head, redactor, refresh=refresh)
    settled = EngineReport(ChangeCounts())
    verdict = judge(report.changes.delete, report.changes.replace, threshold, trailer)
    if not verdict.allowed and report.unseen:
        settled, report = _settle_unknowns(session, redactor, report, head, refresh)
        verdict = judge(report.changes.delete, report.changes.replace, threshold, trailer)
    return Guarded(verdict, settled.changes.then(report.changes), settled, report.doomed)


def _settle_unknowns(
    session: StackSession, redactor: Redactor, report: PreviewReport, head: str, refresh: bool
) -> tuple[EngineReport, PreviewReport]:
    """A preview that shows deletes it could not plan (a ConfigGroup waiting for an image digest shows all
    its objects deleted) is not judged as is: its creates and updates, which delete nothing, are applied
    first (`up --target`), and the guard judges a second preview that knows every value."""
    fields = {"stack": session.spec.name, "commit": head}
    settle = [entry["urn"] for entry in report.resources if entry["op"] in ("create", "update")]
    if not settle:
        return EngineReport(ChangeCounts()), report
    log.warning(
        "the preview cannot plan %d of its %d delete(s)/replace(s) (unknown inputs); applying its %d create(s)/"
        "update(s) first, then previewing again", len(report.unseen), len(report.doomed), len(settle), extra=fields,
    )
    settled = EngineReport(ChangeCounts())
    try:
        settled = operations.up(session, head, redactor, refresh=refresh, targets=settle)
    except OperationFailed as error:
        # The engine refuses a targeted update as soon as it would delete anything outside its
        # targets - a real delete among the unplanned ones; the steps before it are applied.
        log.warning("applying them first stopped (%s); judging the preview as it is now", error.message.splitlines()[0], extra=fields)
    return settled, operations.preview(session, head, redactor, refresh=refresh)
