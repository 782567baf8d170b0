"""The service-wide sections of the reconciler config as pydantic models: each key, its default and what it means."""

from __future__ import annotations

import pwd
import re
import string
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationInfo, field_validator

from .fields import Duration, PositiveDuration, SecretRef, written

STATUS_AUTH_MODES = ("non-loopback", "always")
# A name or address as it appears in a Host header, without the port.
GITHUB_COM_API = "https://api.github.com"
# What a commit status's target URL template may name.
TARGET_URL_FIELDS = ("stack", "commit")
_HTTP_URL = r"^https?://[^/\s]+"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
LABEL_PATTERN = r"^[^\s,][^,]{0,49}$"
_COMMAND = r"^/[A-Za-z0-9][A-Za-z0-9_-]*$"
_PREVIEW_USER = r"^(\d+(:\d+)?|[a-z_][a-z0-9_-]*)$"
_HOST_NAME = re.compile(r"[a-z0-9._-]+|\[?[0-9a-f:.]+\]?")
# GitHub's author_association values (REST API, "author_association").
ASSOCIATIONS = ("OWNER", "MEMBER", "COLLABORATOR", "CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR", "FIRST_TIMER", "MANNEQUIN", "NONE")


class Section(BaseModel):
    """A mapping in the config: unknown keys are refused, and every default is validated like a written value."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


class WebhookSection(Section):
    secret: Optional[SecretRef] = Field(None, description="HMAC secret of GitHub's webhook deliveries; unset: /webhook is refused")
    max_body_bytes: StrictInt = Field(1_048_576, ge=1, description="largest webhook body accepted; larger bodies: 413")


class GitHubSection(Section):
    api_url: Optional[str] = Field(
        None, json_schema_extra={"pattern": _HTTP_URL},
        description="where pull request preview comments and commit statuses go; unset: $GITHUB_API_URL, else " + GITHUB_COM_API,
    )
    token_env: str = Field(
        "GITHUB_TOKEN", json_schema_extra={"pattern": ENV_NAME},
        description="the environment variable holding a token with `pull-requests: write` and `statuses: write` (never the token itself)",
    )

    commit_statuses: StrictBool = Field(
        True, description="post each run of a stack whose repository is on GitHub as a commit status `gitops/<stack>` "
        "(the token needs `statuses: write`)",
    )
    status_target_url: Optional[str] = Field(
        None, json_schema_extra={"pattern": _HTTP_URL},
        description="the link of each commit status, with {stack} and {commit} filled in; unset: none",
    )

    @field_validator("api_url")
    @classmethod
    def _http_url(cls, url: Optional[str]) -> Optional[str]:
        if url is not None and not re.match(_HTTP_URL, url):
            raise ValueError(f"must be an http(s) URL like https://api.github.com, got {url!r}")
        return url

    @field_validator("status_target_url")
    @classmethod
    def _link_template(cls, template: Optional[str]) -> Optional[str]:
        if template is None:
            return None
        example = "https://gitops.example/stacks/{stack}?commit={commit}"
        if not re.match(_HTTP_URL, template):
            raise ValueError(f"must be an http(s) URL like {example}, got {template!r}")
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
        except ValueError as error:
            raise ValueError(f"{template!r} is not a template like {example} ({error}); write a literal brace as {{{{ or }}}}") from None
        if not names <= set(TARGET_URL_FIELDS):
            unknown = ", ".join(sorted("{" + name + "}" for name in names - set(TARGET_URL_FIELDS)))
            raise ValueError(f"{template!r} has {unknown}: only {{stack}} and {{commit}} are filled in")
        return template

    @field_validator("token_env")
    @classmethod
    def _env_name(cls, name: str) -> str:
        if not re.fullmatch(ENV_NAME, name):
            raise ValueError(f"must name an environment variable (the token is never written in this file), got {name!r}")
        return name


class HttpSection(Section):
    allowed_hosts: list[str] = Field(
        [], description="names the Host header may carry (no port), others: 421; empty: the listen host, localhost, 127.0.0.1, ::1",
    )
    status_token: Optional[SecretRef] = Field(None, description="bearer token for /status and /metrics")
    status_auth: Literal["non-loopback", "always"] = Field(
        "non-loopback", description="when /status and /metrics ask for the token",
    )
    max_connections: StrictInt = Field(256, ge=1, description="open connections; more get 503 and are closed")
    request_timeout: PositiveDuration = written("10s", "for a whole request (head and body), not per read; then 408")
    workers: StrictInt = Field(4, ge=1, description="threads that answer complete requests")

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, hosts: list[str]) -> list[str]:
        if not all(_HOST_NAME.fullmatch(host.lower()) for host in hosts):
            raise ValueError(f"must be a list of host names or addresses without ports, like [hooks.example.com], got {hosts!r}")
        return [host.lower().strip("[]") for host in hosts]

    @field_validator("status_auth")
    @classmethod
    def _token_when_always(cls, mode: str, info: ValidationInfo) -> str:
        if mode == "always" and info.data.get("status_token") is None:
            raise ValueError("is `always` but http.status_token is not set: give the token as {env: ...} or {file: ...}")
        return mode


class PreviewsSection(Section):
    trusted_associations: list[str] = Field(
        ["OWNER", "MEMBER", "COLLABORATOR"], json_schema_extra={"items": {"enum": list(ASSOCIATIONS)}},
        description="the pull request author's associations with the repository that let a preview run at once",
    )
    label: Optional[str] = Field(
        "preview", json_schema_extra={"pattern": LABEL_PATTERN},
        description="a label (set by people with triage rights) that lets anyone's pull request be previewed; null: none",
    )
    command: Optional[str] = Field(
        "/preview", json_schema_extra={"pattern": _COMMAND},
        description="a trusted member's comment that previews the pull request's current head (forks included); null: none",
    )
    forks: StrictBool = Field(False, description="preview pull requests from forks without a trusted member asking")
    timeout: Duration = written("10m", "a preview's CLI is interrupted past it")
    user: Optional[str] = Field(
        "65532:65532", json_schema_extra={"pattern": _PREVIEW_USER},
        description="who a preview's CLI and program run as when the service is root: UID:GID, UID or a user name; "
        "null: root without capabilities",
    )

    @field_validator("trusted_associations")
    @classmethod
    def _associations(cls, trusted: list[str]) -> list[str]:
        if not set(trusted) <= set(ASSOCIATIONS):
            raise ValueError(f"must be a list of GitHub author associations ({', '.join(ASSOCIATIONS)}), got {trusted!r}")
        return trusted

    @field_validator("label", "command")
    @classmethod
    def _like_the_default(cls, text: Optional[str], info: ValidationInfo) -> Optional[str]:
        pattern, example = (LABEL_PATTERN, "preview") if info.field_name == "label" else (_COMMAND, "/preview")
        if text is not None and not re.fullmatch(pattern, text):
            raise ValueError(f"must be like {example!r} (or null for none), got {text!r}")
        return text

    @field_validator("user")
    @classmethod
    def _user(cls, user: Optional[str]) -> Optional[str]:
        if user is None:
            return None
        if not re.fullmatch(_PREVIEW_USER, user) or preview_user_ids(user)[0] == 0:
            raise ValueError("must be UID:GID or UID (not 0), the name of a user of this machine other than root, "
                             f"or null (root without capabilities), got {user!r}")
        return user


def preview_user_ids(user: str) -> tuple[int, int]:
    """(uid, gid) of `previews.user`; (0, 0) for a name this machine does not know."""
    if re.fullmatch(r"\d+(:\d+)?", user):
        uid, _, gid = user.partition(":")
        return int(uid), int(gid or uid)
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return 0, 0
    return entry.pw_uid, entry.pw_gid


class RetrySection(Section):
    unreachable_delay: Duration = written("15s", "wait before retrying when the Git remote or backend is unreachable")
    concurrent_delay: Duration = written("30s", "wait before retrying when another update holds the stack")
    backoff_base: Duration = written("10s", "first wait after a failed run; doubles on each failure")
    backoff_cap: Duration = written("10m", "longest wait between failed runs")

    @field_validator("backoff_cap")
    @classmethod
    def _cap_above_base(cls, cap: float, info: ValidationInfo) -> float:
        if cap < info.data.get("backoff_base", 0):
            raise ValueError("must be at least retry.backoff_base")
        return cap
