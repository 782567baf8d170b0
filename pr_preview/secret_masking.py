"""Secret values replaced by a placeholder before any text leaves the process."""

from __future__ import annotations

import re
from typing import Iterable, Mapping

from pulumi.automation import ConfigValue

from pr_preview.terminal_text import strip_ansi

SECRET_PLACEHOLDER = "[secret]"

# A multi-line secret (a key, a certificate) is printed by the diff one line at a
# time, each with its own indent, so its lines are masked too; shorter lines
# ("}", "-----") are too common to mask without hiding ordinary text.
_MIN_MASKED_LINE = 8


def secret_config_values(config: Mapping[str, ConfigValue]) -> list[str]:
    """The plaintext of every secret in `stack.get_all_config()`: the values to mask."""
    return [value.value for value in config.values() if value.secret and value.value]


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    """Every occurrence of every secret (and of each long line of a multi-line one) as `[secret]`."""
    needles: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        needles.add(secret)
        if "\n" in secret:
            needles.update(line.strip() for line in secret.splitlines() if len(line.strip()) >= _MIN_MASKED_LINE)
    if not needles:
        return text
    # One pass, longest first: a secret that contains another is masked whole,
    # and a placeholder already written is never matched again.
    pattern = re.compile("|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True)))
    return pattern.sub(SECRET_PLACEHOLDER, text)


def clean_text(text: str, secrets: Iterable[str]) -> str:
    """Escape codes stripped first (they can split a secret), then secrets masked."""
    return mask_secrets(strip_ansi(text), secrets)
