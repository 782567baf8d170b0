"""Desired state = a commit + the digest of what the reconciler config adds to it (overrides, env, target).

A rotated secret or a changed override must run the stack again even when Git did not move. The digest is
an HMAC under a key kept in the state directory, so a stored digest says nothing about a secret's value.
A unit's digest also holds the digest of the parent's outputs it reads (its cluster, its image): a parent
update that changes them runs the unit again, at the same commit too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

from reconciler.settings import StackSpec

KEY_FILE = "digest.key"


def digest_key(state_dir: Path) -> bytes:
    path = state_dir / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    key = secrets.token_bytes(32)
    with os.fdopen(fd, "wb") as file:
        file.write(key)
    return key


def config_digest(spec: StackSpec, key: bytes) -> str:
    """Changes whenever an override's value (a secret file read afresh included), the env or the target changes."""
    document = {
        "config": sorted([override.key, override.current().value, override.secret] for override in spec.config),
        "env": sorted(spec.env),
        "target": [spec.repo_url, spec.project_dir, spec.stack, spec.backend_url],
    }
    if spec.unit is not None and spec.unit.parent_outputs is not None:
        document["parent_outputs"] = spec.unit.parent_outputs  # absent otherwise: other stacks' digests stay as they were
    return _keyed_digest(document, key)


def outputs_digest(outputs: dict[str, Any], key: bytes) -> str:
    """The outputs a parent's units read (its kubeconfig is secret), as an HMAC: it is published on Leases."""
    return _keyed_digest(outputs, key)


def _keyed_digest(document: dict[str, Any], key: bytes) -> str:
    text = json.dumps(document, sort_keys=True, default=str)
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:20]
