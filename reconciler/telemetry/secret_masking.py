"""Secret values replaced by a placeholder before any text leaves the process, in a pull request comment.

The masking is the reconciler's one Redactor (every encoded and line-wrapped
form of every secret), with Pulumi's own placeholder `[secret]` as marker.
"""

from __future__ import annotations

import functools
from typing import Iterable, Mapping

from pulumi.automation import ConfigValue

from reconciler.telemetry.redaction import Redactor
from reconciler.telemetry.terminal_text import strip_ansi

SECRET_PLACEHOLDER = "[secret]"


def secret_config_values(config: Mapping[str, ConfigValue]) -> list[str]:
    """The plaintext of every secret in `stack.get_all_config()`: the values to mask."""
    return [value.value for value in config.values() if value.secret and value.value]


@functools.lru_cache(maxsize=16)
def _comment_redactor(secrets: tuple[str, ...]) -> Redactor:
    # A comment is cleaned piece by piece with the same secrets: the masks are built once.
    # Every non-empty secret is masked here, however short: a comment is read by anyone who can read the pull request.
    return Redactor(secrets, marker=SECRET_PLACEHOLDER, min_length=1)


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    """Every occurrence of every secret, in every form the Redactor knows, as `[secret]`."""
    return _comment_redactor(tuple(secrets)).redact(text)


def clean_text(text: str, secrets: Iterable[str]) -> str:
    """Escape codes stripped first (they can split a secret), then secrets masked."""
    return mask_secrets(strip_ansi(text), secrets)
