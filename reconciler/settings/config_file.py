"""The whole reconciler config file as a pydantic model: the top-level keys and one model per section."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Optional

from pydantic import Field, StrictInt, field_validator, model_validator

from .coordination_section import CoordinationSection
from .fields import RelativePath, written
from .notifications_section import NotificationsSection
from .promotion_links import promotion_problems
from .sections import GitHubSection, HttpSection, PreviewsSection, RetrySection, Section, WebhookSection
from .stack_section import StackSection

# The stack that deletes nothing unless a commit says so, when the config does not say otherwise.
GUARDED_BY_DEFAULT = ("prod", "production")


class ConfigFile(Section):
    """The reconciler config (YAML): what to keep in sync, where, and how often."""

    state_dir: RelativePath = written(".reconciler", "status store, checkouts and locks (relative to this file)")
    listen: str = Field("127.0.0.1:8099", description="HOST:PORT of /webhook, /status and /metrics")
    workers: StrictInt = Field(2, ge=1, description="stacks reconciled at once")
    log_format: Literal["text", "json"] = Field("text", description="text or json lines")
    log_level: str = Field("INFO", json_schema_extra={"enum": ["DEBUG", "INFO", "WARNING", "ERROR"]}, description="log level")
    pulumi: Optional[RelativePath] = Field(None, description="the pulumi CLI to run (default: the one on PATH)")
    webhook: WebhookSection = Field(WebhookSection(), description="GitHub push webhooks")
    github: GitHubSection = Field(GitHubSection(), description="where pull request preview comments and commit statuses go")
    http: HttpSection = Field(HttpSection(), description="how the HTTP listener defends itself")
    retry: RetrySection = Field(RetrySection(), description="how long to wait before trying a stack again")
    previews: PreviewsSection = Field(PreviewsSection(), description="who may have a pull request previewed")
    notifications: NotificationsSection = Field(NotificationsSection(), description="where runs are announced (webhooks, Slack)")
    coordination: Optional[CoordinationSection] = Field(
        None, description="replicas sharing the stacks through Kubernetes Leases; unset: this process runs every stack",
    )
    stacks: list[StackSection] = Field(min_length=1, description="the stacks to keep in sync")

    @field_validator("listen")
    @classmethod
    def _host_port(cls, text: str) -> str:
        host, _, port = text.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"must be HOST:PORT like 127.0.0.1:8099, got {text!r}")
        return text

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, level: str) -> str:
        if level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError(f"must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
        return level.upper()

    @field_validator("pulumi")
    @classmethod
    def _executable(cls, path: Optional[Path]) -> Optional[Path]:
        if path is not None and not os.access(path, os.X_OK):
            raise ValueError(f"{path} is not an executable pulumi CLI")
        return path

    @field_validator("stacks", mode="before")
    @classmethod
    def _a_list(cls, value: object) -> object:
        if not isinstance(value, list) or not value:
            raise ValueError("must be a non-empty list of stacks to keep in sync")
        return value

    @model_validator(mode="after")
    def _one_entry_per_pulumi_stack(self) -> "ConfigFile":
        seen: dict[tuple[str, str, str, str], str] = {}
        for entry in self.stacks:
            target = (entry.backend_url, entry.repo.url, entry.project_dir, pulumi_stack(entry))
            if target in seen:
                raise ValueError(
                    f"stacks ({entry.name}): updates the same Pulumi stack as {seen[target]!r}; "
                    "two entries would run two updates of one stack"
                )
            seen[target] = entry.name
        return self

    @model_validator(mode="after")
    def _promotion_links(self) -> "ConfigFile":
        problems = promotion_problems(self.stacks)
        if problems:
            raise ValueError("\n".join(problems))
        return self


def pulumi_stack(entry: StackSection) -> str:
    return entry.stack or entry.name


def deletion_guard(entry: StackSection) -> Optional[int]:
    """The written guard; unwritten: 0 (nothing deleted without a trailer) for a prod stack, none otherwise."""
    if "deletion_guard" in entry.model_fields_set:
        return entry.deletion_guard  # type: ignore[return-value]
    return 0 if pulumi_stack(entry) in GUARDED_BY_DEFAULT else None
