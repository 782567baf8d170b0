"""A review stack as one line of `python -m reconciler status`."""

from __future__ import annotations

import time
from typing import Any


def review_stack_line(entry: dict[str, Any]) -> str:
    applied = (entry["applied_commit"] or "-")[:12]
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(entry["expires_at"]))
    where = entry["url"] or f"namespace {entry['namespace']}"
    line = (f"{entry['name']:<20} {entry['status']:<28} review of {entry['repository']}#{entry['number']} "
            f"applied {applied:<12} {where} until {expires}")
    if entry["status"] not in ("Ready", "Reconciling") and entry["message"]:
        line += "\n    " + str(entry["message"]).strip().splitlines()[-1][:300]
    return line
