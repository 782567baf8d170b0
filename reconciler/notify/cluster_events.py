"""The RunListener that writes a Kubernetes Event for each recorded run on the stack's cluster.

A cluster that cannot be reached (no kubeconfig yet, API server down, no permission to create events)
is logged, once until it is reached again, and never fails or slows the run.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from reconciler.notify.delivery import BackgroundDelivery
from reconciler.notify.kube_event import event_body
from reconciler.notify.notification import Notification
from reconciler.settings import StackSpec
from reconciler.settings.notification_settings import EventsTarget
from reconciler.status.model import RunOutcome, StackState
from reconciler.telemetry.redaction import Redactor

log = logging.getLogger("reconciler")


class ClusterEvents:
    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self.delivery: BackgroundDelivery[tuple[str, EventsTarget, dict[str, Any]]] = BackgroundDelivery(
            "kubernetes-events", self._write,
        )
        self._unreachable: set[str] = set()
        self._lock = threading.Lock()

    def run_started(self, spec: StackSpec, run: RunOutcome) -> None:
        """An Event tells what a run did: only ended runs make one."""

    def run_recorded(self, spec: StackSpec, run: RunOutcome, state: StackState) -> None:
        if spec.events is None:
            return
        body = event_body(Notification.of(run, None, self.redactor), spec.events.namespace)
        if not self.delivery.put((spec.name, spec.events, body)):
            log.warning("%s: too many Kubernetes Events waiting; this run's is not written", spec.name, extra={"stack": spec.name})

    def flush(self, timeout_s: float) -> None:
        self.delivery.flush(timeout_s)

    def _write(self, item: tuple[str, EventsTarget, dict[str, Any]]) -> None:
        # The Kubernetes client takes a second or two to import: the worker pays it, at the first Event,
        # while the run goes on (and a config without Events never does).
        from reconciler.notify.kube_client import ClusterUnreachable, write_event

        stack, target, body = item
        try:
            write_event(target, body)
        except ClusterUnreachable as error:
            self._unreachable_now(stack, target, str(error))
            return
        with self._lock:
            was_unreachable = stack in self._unreachable
            self._unreachable.discard(stack)
        if was_unreachable:
            log.info("%s: its cluster is reachable again; Kubernetes Events are written", stack, extra={"stack": stack})

    def _unreachable_now(self, stack: str, target: EventsTarget, why: str) -> None:
        with self._lock:
            first = stack not in self._unreachable
            self._unreachable.add(stack)
        log.log(logging.WARNING if first else logging.DEBUG,
                "%s: no Kubernetes Event written (%s, kubeconfig %s, namespace %s); runs go on without them",
                stack, why, target.kubeconfig, target.namespace, extra={"stack": stack})
