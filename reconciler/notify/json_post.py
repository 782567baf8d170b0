"""One POST of a JSON body, retried by urllib3 (as the GitHub client is) on connection errors, 429 and 5xx."""

from __future__ import annotations

from typing import Optional

import urllib3
from urllib3.exceptions import HTTPError as TransportError
from urllib3.exceptions import MaxRetryError

from reconciler.settings.notification_settings import NotificationSink

RETRIED_STATUSES = frozenset({429, *range(500, 600)})
# A Retry-After asking for longer than this is cut short: the delivery must end in bounded time.
LONGEST_WAIT_S = 60
USER_AGENT = "pulumi-gitops"


class JsonPoster:
    def __init__(self, sink: NotificationSink) -> None:
        self.sink = sink
        self.retry = urllib3.Retry(
            total=sink.retries, redirect=0, allowed_methods=frozenset({"POST"}), status_forcelist=RETRIED_STATUSES,
            # urllib3 waits factor * 2**(n-1) before retry n (none before the first): the second waits retry_backoff.
            backoff_factor=sink.retry_backoff_s / 2, backoff_max=LONGEST_WAIT_S, retry_after_max=LONGEST_WAIT_S,
            raise_on_status=False, raise_on_redirect=False,
        )
        self._http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=sink.timeout_s, read=sink.timeout_s))

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[Optional[int], str]:
        """(the last HTTP status, None when no answer came; what happened, in words without the URL)."""
        try:
            answer = self._http.request(
                "POST", self.sink.address(), body=body, retries=self.retry, redirect=False,
                headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
            )
        except TransportError as error:
            # Its text names the URL, which may hold a token: only the kind of failure is told.
            last = error.reason if isinstance(error, MaxRetryError) and error.reason is not None else error
            return None, f"no answer ({type(last).__name__}) after {self.sink.retries + 1} attempt(s)"
        return answer.status, f"HTTP {answer.status}"
