"""A run as a Kubernetes Event, written as the Flux controllers write theirs (client-go's recorder: core/v1 Events).

The Event's object is the stack (kind `Stack` of `pulumi-gitops.dev/v1`: no API serves it, and an Event may
name any object), so `kubectl get events --field-selector involvedObject.name=<stack>` is a stack's history.
"""

from __future__ import annotations

import re
import socket
import time
from typing import Any

from reconciler.notify.notification import REPORTING_CONTROLLER, Notification

INVOLVED_API_VERSION, INVOLVED_KIND = "pulumi-gitops.dev/v1", "Stack"
COMMIT_ANNOTATION = "pulumi-gitops.dev/commit"
# The API server refuses a longer message or reportingInstance.
MESSAGE_LIMIT, INSTANCE_LIMIT = 1024, 128
CUT = "\n[cut: the whole error is in the reconciler's status]"


def event_body(note: Notification, namespace: str) -> dict[str, Any]:
    at = note.timestamp()
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            # As client-go's recorder names its events: the object's name and the time in hex.
            "name": f"{_object_name(note.stack)}.{time.time_ns():x}",
            "namespace": namespace,
            "annotations": {COMMIT_ANNOTATION: note.commit or ""},
        },
        "involvedObject": {"apiVersion": INVOLVED_API_VERSION, "kind": INVOLVED_KIND, "name": note.stack, "namespace": namespace},
        "reason": note.result.value.capitalize(),
        "type": "Normal" if note.in_sync else "Warning",
        "message": _message(note),
        "action": note.kind.capitalize(),
        "source": {"component": REPORTING_CONTROLLER},
        "reportingComponent": REPORTING_CONTROLLER,
        "reportingInstance": socket.gethostname()[:INSTANCE_LIMIT],
        "firstTimestamp": at,
        "lastTimestamp": at,
        "count": 1,
    }


def _message(note: Notification) -> str:
    """The outcome, then the whole error as far as the limit allows (as Flux puts a failure's message)."""
    text = note.outcome() + (f"\n{note.error.strip()}" if note.error else "")
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT - len(CUT)] + CUT


def _object_name(stack: str) -> str:
    # Stack names may hold `_` and capitals; object names are lowercase DNS names.
    return re.sub(r"[^a-z0-9.-]", "-", stack.lower()).strip(".-") or "stack"
