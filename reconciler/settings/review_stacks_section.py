"""`review_stacks:` of a stack entry: a labelled pull request gets a stack of its own, like Pulumi Deployments' review stacks."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from .fields import PositiveDuration, written
from .sections import LABEL_PATTERN, Section

_CONFIG_KEY = r"^[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+$"
_OUTPUT_NAME = r"^[A-Za-z_][A-Za-z0-9_-]*$"


class ReviewStacksSection(Section):
    label: str = Field(
        json_schema_extra={"pattern": LABEL_PATTERN},
        description="the pull request label that asks for a review stack (set by people with triage rights)",
    )
    ttl: PositiveDuration = written("72h", "a review stack is destroyed this long after it was created, even if the pull request stays open")
    namespace_config: str = Field(
        "pulumi-gitops:reviewNamespace", json_schema_extra={"pattern": _CONFIG_KEY},
        description="the program's config key set to the review stack's own namespace (its objects go there)",
    )
    url_output: str = Field(
        "url", json_schema_extra={"pattern": _OUTPUT_NAME},
        description="the stack output holding the app's URL, shown in the pull request comment (else the namespace is)",
    )

    @field_validator("label")
    @classmethod
    def _a_label(cls, label: str) -> str:
        if not re.fullmatch(LABEL_PATTERN, label):
            raise ValueError(f"must be a GitHub label like 'preview-env', got {label!r}")
        return label

    @field_validator("namespace_config")
    @classmethod
    def _config_key(cls, key: str) -> str:
        if not re.fullmatch(_CONFIG_KEY, key):
            raise ValueError(f"must be a namespaced Pulumi config key like pulumi-gitops:reviewNamespace, got {key!r}")
        return key

    @field_validator("url_output")
    @classmethod
    def _output_name(cls, name: str) -> str:
        if not re.fullmatch(_OUTPUT_NAME, name):
            raise ValueError(f"must be a stack output name like url, got {name!r}")
        return name
