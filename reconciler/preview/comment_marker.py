"""The hidden first line that tells one stack's preview comment from every other comment."""

from __future__ import annotations

import re

# Pulumi stack names, optionally qualified (`org/project/stack`); nothing that
# could close the HTML comment or make one stack's marker a prefix of another's.
_STACK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")


def comment_marker(stack: str) -> str:
    """`<!-- pulumi-gitops-preview stack=NAME -->`: a comment body for this stack starts with it."""
    if not isinstance(stack, str) or not _STACK_NAME.fullmatch(stack):
        raise ValueError(
            f"stack name {stack!r} cannot go in a preview comment marker: "
            "use letters, digits, '.', '_', '-' and '/' only"
        )
    return f"<!-- pulumi-gitops-preview stack={stack} -->"
