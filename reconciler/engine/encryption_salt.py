"""Keeps one passphrase salt per stack across fresh checkouts.

Pulumi (CLI 3.274, checked by hand) generates a new random `encryptionsalt`
when a Pulumi.<stack>.yaml lacks one, even when the stack already exists in
the backend: committed `secure:` values then fail with "cipher: message
authentication failed", and every fresh checkout re-keys the state. A stack
file without a salt therefore gets the salt the backend's state was written
with (`stack export`: secrets_providers.state.salt), or, for a stack without
state yet, the one this reconciler saw last.
"""

from __future__ import annotations

from typing import Any, Optional

from pulumi import automation as auto


def salt_from_state(stack: auto.Stack) -> Optional[str]:
    """The salt the stack's state was encrypted with; None when it has none (no update yet, or another provider)."""
    deployment: Any = stack.export_stack().deployment or {}
    provider = deployment.get("secrets_providers") or {}
    if provider.get("type") != "passphrase":
        return None
    salt = (provider.get("state") or {}).get("salt")
    return salt if isinstance(salt, str) and salt else None
