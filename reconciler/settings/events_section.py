"""A stack's `events:` entry: which cluster its Kubernetes Events go to.

Unwritten, the Events go to the cluster the stack's program deploys to when the reconciler config names
its kubeconfig (`pulumi-gitops:kubeconfig`, as the local target's stacks do), in its context
(`pulumi-gitops:kubeContext`) if given there too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Optional

from pydantic import Field, StrictBool, field_validator

from .fields import RelativePath
from .notification_settings import EventsTarget
from .sections import Section

PROGRAM_KUBECONFIG = "pulumi-gitops:kubeconfig"
PROGRAM_CONTEXT = "pulumi-gitops:kubeContext"
_NAMESPACE = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"


class EventsSection(Section):
    enabled: StrictBool = Field(True, description="write a Kubernetes Event for each run")
    kubeconfig: Optional[RelativePath] = Field(
        None, description="the cluster's kubeconfig; unset: the stack's `pulumi-gitops:kubeconfig` config value ({path: ...} or an absolute path)",
    )
    context: Optional[str] = Field(
        None, description="its context; unset: the stack's `pulumi-gitops:kubeContext` config value, else the current context",
    )
    namespace: str = Field("default", description="the (existing) namespace the Events are written in")

    @field_validator("namespace")
    @classmethod
    def _namespace_name(cls, name: str) -> str:
        if not re.fullmatch(_NAMESPACE, name):
            raise ValueError(f"must be a Kubernetes namespace name (lowercase letters, digits and '-'), got {name!r}")
        return name


def events_target(section: Optional[EventsSection], config: dict[str, tuple[Any, bool, Optional[Path]]]) -> Optional[EventsTarget]:
    """Where the stack's Events go; None when nowhere (turned off, or no kubeconfig known)."""
    section = section or EventsSection()
    if not section.enabled:
        return None
    kubeconfig = section.kubeconfig or _absolute_path(config.get(PROGRAM_KUBECONFIG))
    if kubeconfig is None:
        return None
    context = section.context
    if context is None and not section.kubeconfig:
        context = _plain_text(config.get(PROGRAM_CONTEXT))
    return EventsTarget(kubeconfig, context, section.namespace)


def _absolute_path(override: Optional[tuple[Any, bool, Optional[Path]]]) -> Optional[Path]:
    # A relative value is read by the program against its checkout, which the config cannot know here.
    text = _plain_text(override)
    return Path(text) if text and Path(text).is_absolute() else None


def _plain_text(override: Optional[tuple[Any, bool, Optional[Path]]]) -> Optional[str]:
    if override is None:
        return None
    value, secret, _ = override
    return value if isinstance(value, str) and value and not secret else None
