"""Where notifications of runs go, and where a stack's Kubernetes Events are written, as typed values.

Built by settings.loading from the validated `notifications:` section and each stack's `events:`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union
from urllib.parse import urlsplit

from .model import Secret


@dataclass(frozen=True)
class RateLimit:
    messages: int  # at most this many messages...
    per_s: float  # ...in any window of this many seconds; more are dropped (and logged)


@dataclass(frozen=True)
class NotificationSink:
    name: str
    type: str  # "webhook" (generic JSON, HMAC-signed) or "slack" (incoming webhook)
    url: Union[str, Secret]  # a Slack URL holds its token: always a Secret
    secret: Optional[Secret]  # the HMAC-SHA256 key of a webhook
    results: frozenset[str]
    stacks: frozenset[str]  # empty: every stack
    rate_limit: RateLimit
    timeout_s: float  # of one attempt (connect, and then the answer)
    retries: int  # after the first attempt, on connection errors, 429 and 5xx
    retry_backoff_s: float  # the wait doubles from this between retries

    def address(self) -> str:
        return self.url.value if isinstance(self.url, Secret) else self.url

    def secret_values(self) -> list[str]:
        values = [secret.value for secret in (self.url, self.secret) if isinstance(secret, Secret)]
        if isinstance(self.url, Secret):
            # HTTP libraries log the path they retry without the host: a Slack URL's token is in its path.
            parts = urlsplit(self.url.value)
            values.append(parts.path + (f"?{parts.query}" if parts.query else ""))
        return values


@dataclass(frozen=True)
class NotificationSettings:
    sinks: tuple[NotificationSink, ...]
    link: Optional[str]  # a URL template: {stack}, {commit}, {short_commit}, {result}

    def secret_values(self) -> list[str]:
        return [value for sink in self.sinks for value in sink.secret_values()]


@dataclass(frozen=True)
class EventsTarget:
    """The cluster a stack's Kubernetes Events are written to."""

    kubeconfig: Path
    context: Optional[str]  # None: the kubeconfig's current context
    namespace: str
