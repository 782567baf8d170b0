"""`review_stacks:` of a stack entry: a labelled pull request gets a stack of its own, like Pulumi Deployments' review stacks."""

from __future__ import annotations

import re

from pydantic import Field, ValidationInfo, field_validator

from .fields import PositiveDuration, written
from .sections import LABEL_PATTERN, Section

_CONFIG_KEY = r"^[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+$"
_OUTPUT_NAME = r"^[A-Za-z_][A-Za-z0-9_-]*$"
# Each text key's pattern and an example of it, for the error.
_WRITTEN_LIKE = {
    "label": (LABEL_PATTERN, "preview-env"),
    "namespace_config": (_CONFIG_KEY, "pulumi-gitops:reviewNamespace"),
    "url_output": (_OUTPUT_NAME, "url"),
}


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

    @field_validator("label", "namespace_config", "url_output")
    @classmethod
    def _like_the_example(cls, text: str, info: ValidationInfo) -> str:
        pattern, example = _WRITTEN_LIKE[info.field_name or ""]
        if not re.fullmatch(pattern, text):
            raise ValueError(f"must be like {example!r}, got {text!r}")
        return text
