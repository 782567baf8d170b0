"""The three commands of `python -m reconciler`: run, once and status, with the exit codes other tools rely on."""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Optional, TextIO

from reconciler.exit_codes import EXIT_IN_SYNC, EXIT_OUT_OF_SYNC
from reconciler.promotion import waves
from reconciler.review.status_line import review_stack_line
from reconciler.review.store import ReviewStackStore
from reconciler.settings import ServiceConfig
from reconciler.status.model import Result, RunKind, RunOutcome
from reconciler.status.report import service_status, status_line
from reconciler.status.store import StatusStore
from reconciler.telemetry.redaction import Redactor
from reconciler.units.store import UnitStore

# The reconciler's passes (stack_set and what it imports) are imported by the commands that run them:
# `python -m reconciler preview` starts without them.


def run(config: ServiceConfig, redactor: Redactor) -> int:
    from reconciler.service.runner import ReconcilerService
    from reconciler.stack_set import StackSet

    return ReconcilerService(StackSet(config, redactor)).serve()


def once(config: ServiceConfig, redactor: Redactor, stack: Optional[str], as_json: bool, out: TextIO = sys.stdout) -> int:
    """One pass over every (or one) stack, upstreams before the stacks promoted from them; 0 when all ended
    applied, skipped or remediated, else 1."""
    from reconciler.stack_set import LISTENER_FLUSH_S, StackSet

    stacks = StackSet(config, redactor, only=stack)

    def one_pass(name: str) -> RunOutcome:
        done = stacks.reconcilers[name].reconcile("once", force=True)
        if done.outcome is not None:
            return done.outcome
        # Nothing was due: a forced pass runs everything but a desired state settled in sync.
        now = time.time()
        state = done.state
        return RunOutcome(name, state.observed_commit if state else None, "once", RunKind.APPLY, Result.SKIPPED, now, now)

    results: list[RunOutcome] = []
    with ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="stack") as pool:
        for wave in waves(stacks.specs):
            for outcome in pool.map(one_pass, wave):
                results.append(outcome)
                _print_outcome(outcome, as_json, stacks.redactor, out)
    # Then each stack's units (reconciler/units/), planned at the commit it is in sync at, in dependency order.
    for spec in stacks.specs:
        stacks.plan_units(spec.name)
        with ThreadPoolExecutor(max_workers=spec.units_parallel, thread_name_prefix="unit") as pool:
            for wave in stacks.unit_waves(spec.name):
                for outcome in pool.map(one_pass, wave):
                    results.append(outcome)
                    _print_outcome(outcome, as_json, stacks.redactor, out)
    stacks.flush_listeners(LISTENER_FLUSH_S)
    stacks.store.close()
    return EXIT_IN_SYNC if all(outcome.result.in_sync for outcome in results) else EXIT_OUT_OF_SYNC


def _print_outcome(outcome: RunOutcome, as_json: bool, redactor: Redactor, out: TextIO) -> None:
    if as_json:
        out.write(json.dumps(redactor.redact_data(outcome.json_line())) + "\n")
    else:
        changes = " ".join(f"{kind}={count}" for kind, count in outcome.changes.as_dict().items() if count)
        reason = f" ({outcome.reason})" if outcome.reason else ""
        line = (f"{outcome.stack}: {outcome.result.value}{reason} {(outcome.commit or '-')[:12]} "
                f"in {outcome.duration_s:.1f}s {changes}").rstrip()
        if outcome.error_message:
            line += "\n  " + redactor.redact(outcome.error_message).replace("\n", "\n  ")
        out.write(line + "\n")
    out.flush()


def status(config: ServiceConfig, redactor: Redactor, as_json: bool, out: TextIO = sys.stdout) -> int:
    """What the status store holds, without running anything (works while `run` is running)."""
    from reconciler.stack_set import STORE_FILE

    path = config.state_dir / STORE_FILE
    if not path.exists():
        entries = [{"stack": spec.name, "result": None} for spec in config.stacks]
        if as_json:
            for entry in entries:
                out.write(json.dumps(entry) + "\n")
        else:
            out.write(f"no runs yet: {path} does not exist\n")
        return EXIT_IN_SYNC
    store = StatusStore(path, read_only=True)
    review_store = ReviewStackStore(path, read_only=True)
    unit_store = UnitStore(path, read_only=True)
    try:
        entries = service_status(config, store, redactor, units=unit_store)["stacks"]
        reviews = [redactor.redact_data(record.as_status()) for record in review_store.all()]
    finally:
        store.close()
        review_store.close()
        unit_store.close()
    for entry in entries:
        out.write((json.dumps(entry) if as_json else status_line(entry)) + "\n")
    for review in reviews:
        out.write((json.dumps({"review_stack": review}) if as_json else review_stack_line(review)) + "\n")
    return EXIT_IN_SYNC
