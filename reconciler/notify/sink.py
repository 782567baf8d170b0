"""One configured sink: which runs it is told of (filters, repeats, rate limit), and its delivery in the background."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

from reconciler.notify.delivery import BackgroundDelivery
from reconciler.notify.json_post import JsonPoster
from reconciler.notify.notification import Notification
from reconciler.notify.payloads import slack_message, webhook_event
from reconciler.notify.rate_limit import SlidingWindow
from reconciler.notify.repeats import AnnouncedRuns, LastAnnounced
from reconciler.settings.notification_settings import NotificationSink
from reconciler.telemetry.redaction import Redactor

log = logging.getLogger("reconciler")
SIGNATURE_HEADER = "X-Signature"


class Sink:
    def __init__(self, settings: NotificationSink, announced: AnnouncedRuns, redactor: Redactor) -> None:
        self.settings = settings
        self.announced = announced
        self.redactor = redactor
        self.window = SlidingWindow(settings.rate_limit)
        self.poster = JsonPoster(settings)
        self.delivery: BackgroundDelivery[tuple[str, bytes]] = BackgroundDelivery(f"sink {settings.name}", self._post)

    def offer(self, note: Notification) -> None:
        """Queues the message this run makes, unless the filters, a repeat or the rate limit hold it back."""
        name = self.settings.name
        if self.settings.stacks and note.stack not in self.settings.stacks:
            return
        last = self.announced.last(name, note.stack)
        if last is not None and last.key == note.repeat_key():
            return
        failing = last.failing if last is not None else None
        if note.in_sync and failing is not None:
            note = note.recovering(failing)  # announced whatever the results filter says
        elif note.result.value not in self.settings.results:
            return
        if not self.window.allow():
            log.warning("sink %s: rate limit (%d per %gs) reached; not announced: %s", name,
                        self.settings.rate_limit.messages, self.settings.rate_limit.per_s, note.headline(),
                        extra={"stack": note.stack})
            return
        if not self.delivery.put((note.headline(), self._body(note))):
            log.warning("sink %s: too many messages waiting; not announced: %s", name, note.headline(), extra={"stack": note.stack})
            return
        self.announced.remember(name, note.stack, LastAnnounced(note.repeat_key(), None if note.in_sync else note.result.value))

    def flush(self, timeout_s: float) -> bool:
        return self.delivery.flush(timeout_s)

    def _body(self, note: Notification) -> bytes:
        payload: Any = webhook_event(note) if self.settings.type == "webhook" else slack_message(note)
        return json.dumps(self.redactor.redact_data(payload), sort_keys=True).encode()

    def _post(self, item: tuple[str, bytes]) -> None:
        headline, body = item
        headers = {}
        if self.settings.secret is not None:
            # As Flux's generic-hmac provider signs: the body's HMAC-SHA256, hex, named by its hash.
            digest = hmac.new(self.settings.secret.value.encode(), body, hashlib.sha256).hexdigest()
            headers[SIGNATURE_HEADER] = f"sha256={digest}"
        status, what = self.poster.post(body, headers)
        if status is None or status >= 300:
            log.warning("sink %s: gave up on %r: %s", self.settings.name, headline, what)
