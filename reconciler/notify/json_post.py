"""One POST of a JSON body, retried by urllib3 on connection errors, 429 and 5xx with doubling waits."""

from __future__ import annotations

from typing import Optional

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from reconciler.settings.notification_settings import NotificationSink

RETRIED_STATUSES = frozenset({429, *range(500, 600)})
# A Retry-After asking for longer than this is cut short: the delivery must end in bounded time.
LONGEST_RETRY_AFTER_S = 60
USER_AGENT = "pulumi-gitops-reconciler"


class JsonPoster:
    def __init__(self, sink: NotificationSink) -> None:
        self.sink = sink
        self.session = requests.Session()
        retry = Retry(
            total=sink.retries, connect=sink.retries, read=sink.retries, status=sink.retries, redirect=0,
            allowed_methods=frozenset({"POST"}), status_forcelist=RETRIED_STATUSES,
            # urllib3 waits factor * 2**(n-1) before retry n (none before the first): the second waits retry_backoff.
            backoff_factor=sink.retry_backoff_s / 2, backoff_max=LONGEST_RETRY_AFTER_S,
            retry_after_max=LONGEST_RETRY_AFTER_S, raise_on_status=False, raise_on_redirect=False,
        )
        for scheme in ("http://", "https://"):
            self.session.mount(scheme, HTTPAdapter(max_retries=retry))

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[Optional[int], str]:
        """(the last HTTP status, None when no answer came; what happened, in words without the URL)."""
        try:
            answer = self.session.post(
                self.sink.address(), data=body, timeout=self.sink.timeout_s, allow_redirects=False,
                headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
            )
        except requests.RequestException as error:
            # Its text names the URL, which may hold a token: only the kind of failure is told.
            return None, f"no answer ({type(error).__name__}) after {self.sink.retries + 1} attempt(s)"
        answer.close()
        return answer.status_code, f"HTTP {answer.status_code}"
