"""The RunListener of the notification sinks: each recorded run is offered to every sink."""

from __future__ import annotations

import time
from pathlib import Path

from reconciler.notify.notification import Notification
from reconciler.notify.repeats import AnnouncedRuns
from reconciler.notify.sink import Sink
from reconciler.settings import StackSpec
from reconciler.settings.notification_settings import NotificationSettings
from reconciler.status.model import RunOutcome, StackState
from reconciler.telemetry.redaction import Redactor


class Notifier:
    def __init__(self, settings: NotificationSettings, redactor: Redactor, announced_file: Path) -> None:
        self.settings = settings
        self.redactor = redactor
        self.announced = AnnouncedRuns(announced_file)
        self.sinks = [Sink(sink, self.announced, redactor) for sink in settings.sinks]

    def run_started(self, spec: StackSpec, run: RunOutcome) -> None:
        """Only ended runs are announced."""

    def run_recorded(self, spec: StackSpec, run: RunOutcome, state: StackState) -> None:
        note = Notification.of(run, self.settings.link, self.redactor)
        for sink in self.sinks:
            sink.offer(note)

    def flush(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for sink in self.sinks:
            sink.flush(deadline - time.monotonic())
        self.announced.flush(deadline - time.monotonic())
