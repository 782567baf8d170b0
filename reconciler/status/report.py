"""Each stack's status as data (for /status and `status --json`) and as a line for people."""

from __future__ import annotations

import time
from typing import Any, Optional

from reconciler.settings import ServiceConfig, StackSpec
from reconciler.telemetry.redaction import Redactor
from reconciler.units.specs import unit_spec
from reconciler.units.store import UnitStore

from .model import IN_SYNC_VALUES, READY
from .store import StatusStore


def _iso(moment: Optional[float]) -> Optional[str]:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment)) if moment else None


def stack_status(spec: StackSpec, store: StatusStore, next_run_in: Optional[float] = None) -> dict[str, Any]:
    state = store.stack_state(spec.name)
    ready = state.condition(READY)
    runs = store.runs(spec.name, limit=1)
    last = runs[0] if runs else None
    next_run_at = time.time() + next_run_in if next_run_in is not None else state.next_run_at
    return {
        "stack": spec.name,
        "pulumi_stack": spec.stack,
        "repo": spec.repo_display,
        "tracks": spec.tracks,
        "ready": ready.status if ready else False,
        "conditions": [dict(c.as_dict(), lastTransitionTime=_iso(c.last_transition_at)) for c in state.conditions],
        "observed_commit": state.observed_commit,
        "last_attempted_commit": state.last_attempted_commit,
        "last_applied_commit": state.last_applied_commit,
        "last_applied_at": _iso(state.last_applied_at),
        "config_digest": state.desired_digest,
        "result": state.last_result,
        "reason": state.reason,
        "error": state.message if state.last_result not in IN_SYNC_VALUES else None,
        "last_run": None if last is None else {
            "id": last["id"],
            "commit": last["commit"],
            "trigger": last["trigger"],
            "kind": last["kind"],
            "result": last["result"],
            "started_at": _iso(last["started_at"]),
            "finished_at": _iso(last["finished_at"]),
            "duration_s": last["duration_s"],
            "reason": last["reason"],
            "changes": last["changes"],
            "resources": last["resources"],
            "attempts": last["attempts"],
        },
        "failures": state.failures,
        "needs_recovery": state.needs_recovery,
        "retry_at": _iso(state.retry_at),
        "next_run_at": _iso(next_run_at),
        "last_drift_check_at": _iso(state.last_drift_check_at),
        "drifted_resources": state.drifted,
    }


def service_status(
    config: ServiceConfig, store: StatusStore, redactor: Redactor, next_run_in: Any = None, units: Optional[UnitStore] = None,
) -> dict[str, Any]:
    """Every configured stack, each followed by its units (which name it as their parent)."""
    stacks = []
    for spec in config.stacks:
        stacks.append(stack_status(spec, store, next_run_in(spec.name) if next_run_in else None))
        for record in units.of(spec.name) if units is not None else []:
            entry = stack_status(unit_spec(spec, record), store, next_run_in(record.name) if next_run_in else None)
            stacks.append({**entry, "unit": record.as_status()})
    return redactor.redact_data({"stacks": stacks})


def status_line(entry: dict[str, Any]) -> str:
    applied = (entry["last_applied_commit"] or "-")[:12]
    head = (entry["observed_commit"] or "-")[:12]
    ready = "Ready" if entry["ready"] else f"NotReady({entry['reason'] or 'Progressing'})"
    unit = entry.get("unit")
    name = f"  {entry['stack']}" if unit else entry["stack"]  # a unit, under its parent
    if unit and unit["removed_at"]:
        ready += " removing"
    line = (f"{name:<20} {ready:<28} {entry['result'] or 'never run':<11} applied {applied:<12} "
            f"head {head:<12} next {entry['next_run_at'] or '-'}")
    if entry["error"]:
        line += "\n    " + entry["error"].strip().splitlines()[-1][:300]
    return line
