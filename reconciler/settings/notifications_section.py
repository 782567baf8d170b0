"""The `notifications:` section of the reconciler config: the sinks runs are announced to, and how often."""

from __future__ import annotations

import re
import string
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import Field, PlainValidator, StrictInt, ValidationInfo, WithJsonSchema, field_validator, model_validator

from reconciler.status.model import Result

from .fields import SECRET_SCHEMA, PositiveDuration, SecretRef, config_dir, written
from .model import Secret
from .secret_sources import read_secret
from .sections import Section

# A skipped run changed nothing: announced only when it ends a failure (the recovery message).
ANNOUNCED_RESULTS: list[Result] = [result for result in Result if result is not Result.SKIPPED]
LINK_FIELDS = ("stack", "commit", "short_commit", "result")
_HTTP_URL = re.compile(r"^https?://[^/\s]+")
_SINK_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"


def _http_url(text: str) -> str:
    if not _HTTP_URL.match(text):
        raise ValueError("must be an http(s) URL like https://hooks.example.com/gitops")
    return text


def _url_or_secret(value: Any, info: ValidationInfo) -> Union[str, Secret]:
    if isinstance(value, str):
        return _http_url(value)
    secret = read_secret(value, config_dir(info))
    if not _HTTP_URL.match(secret.value):
        raise ValueError(f"the URL read from {secret.origin} is not an http(s) URL")
    return secret


UrlOrSecret = Annotated[
    Union[str, Secret], PlainValidator(_url_or_secret),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": _HTTP_URL.pattern}, SECRET_SCHEMA]}),
]


class RateLimitSection(Section):
    messages: StrictInt = Field(20, ge=1, description="messages a sink sends at most per window; more are dropped and logged")
    per: PositiveDuration = written("1m", "the window")


class SinkSection(Section):
    name: str = Field(description="the sink's name, in logs (each sink needs its own)")
    type: Literal["webhook", "slack"] = Field(
        description="webhook: a JSON POST signed with HMAC-SHA256 (`X-Signature: sha256=<hex>`); slack: a Slack-compatible incoming webhook",
    )
    url: UrlOrSecret = Field(
        description="where to POST: an http(s) URL, or {env: NAME} / {file: PATH} (a Slack URL holds its token: always so)",
    )
    secret: Optional[SecretRef] = Field(None, description="webhook: the HMAC-SHA256 key, {env: NAME} or {file: PATH} (required)")
    results: list[Result] = Field(
        ANNOUNCED_RESULTS, description="the results announced; a recovery is announced whatever it is",
    )
    stacks: list[str] = Field([], description="the stacks announced (names in `stacks:`); empty: all")
    rate_limit: RateLimitSection = Field(RateLimitSection(), description="how many messages the sink gets at most")
    timeout: PositiveDuration = written("10s", "of one attempt")
    retries: StrictInt = Field(5, ge=0, description="retries after a connection error, 429 or 5xx; then the message is dropped and logged")
    retry_backoff: PositiveDuration = written("1s", "the wait before a second retry; it doubles with each one after")

    @field_validator("name")
    @classmethod
    def _plain_name(cls, name: str) -> str:
        if not re.fullmatch(_SINK_NAME, name):
            raise ValueError(f"{name!r} must be letters, digits, '.', '_' or '-'")
        return name

    @model_validator(mode="after")
    def _what_the_type_needs(self) -> "SinkSection":
        if self.type == "slack" and not isinstance(self.url, Secret):
            raise ValueError("a Slack webhook URL holds its token; give url as {env: NAME} or {file: PATH}")
        if self.type == "slack" and self.secret is not None:
            raise ValueError("secret (the HMAC key) is for type webhook; Slack does not check signatures")
        if self.type == "webhook" and self.secret is None:
            raise ValueError("a webhook is signed; give secret as {env: NAME} or {file: PATH}")
        return self


class NotificationsSection(Section):
    sinks: list[SinkSection] = Field([], description="where runs are announced")
    link: Optional[str] = Field(
        None, description="the link of each message, a URL template with {stack}, {commit}, {short_commit} and {result}",
    )

    @field_validator("link")
    @classmethod
    def _known_fields(cls, link: Optional[str]) -> Optional[str]:
        if link is None:
            return None
        _http_url(link)
        try:
            named = {field for _, field, _, _ in string.Formatter().parse(link) if field is not None}
        except ValueError as error:
            raise ValueError(f"is not a template ({error}); write e.g. https://ci.example.com/{{stack}}/{{commit}}") from None
        unknown = named - set(LINK_FIELDS)
        if unknown:
            raise ValueError(f"knows {', '.join('{' + f + '}' for f in LINK_FIELDS)}; not {', '.join(sorted(unknown))}")
        return link

    @field_validator("sinks")
    @classmethod
    def _one_name_each(cls, sinks: list[SinkSection]) -> list[SinkSection]:
        names = [sink.name for sink in sinks]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"the sink name {', '.join(repeated)} is used twice; each sink needs its own")
        return sinks

    def unknown_stacks(self, known: set[str]) -> list[str]:
        return [
            f"notifications.sinks[{index}] ({sink.name}): stacks: {name!r} is not a stack in this file ({', '.join(sorted(known))})"
            for index, sink in enumerate(self.sinks) for name in sink.stacks if name not in known
        ]
