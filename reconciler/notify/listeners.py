"""The run listeners a config asks for: the notification sinks, and Kubernetes Events for stacks with a cluster."""

from __future__ import annotations

from reconciler.notify.cluster_events import ClusterEvents
from reconciler.notify.notifier import Notifier
from reconciler.run_events import RunListener
from reconciler.settings import ServiceConfig
from reconciler.telemetry.redaction import Redactor

# In the state directory: what each sink last announced for each stack (repeats are not announced again).
ANNOUNCED_FILE = "notifications.json"


def notification_listeners(config: ServiceConfig, redactor: Redactor) -> list[RunListener]:
    listeners: list[RunListener] = []
    if config.notifications.sinks:
        listeners.append(Notifier(config.notifications, redactor, config.state_dir / ANNOUNCED_FILE))
    if any(spec.events is not None for spec in config.stacks):
        listeners.append(ClusterEvents(redactor))
    return listeners
