"""GitHub webhooks: the signature check and which stacks a push or a pull request concerns."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from typing import Any, Iterable, Optional
from urllib.parse import urlsplit

from reconciler.settings import StackSpec

_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>.+)$")


def signature_matches(secret: str, body: bytes, claimed: Optional[bytes]) -> bool:
    """The HMAC-SHA256 of the raw body under the secret equals the claimed one (X-Hub-Signature-256), in constant time."""
    if claimed is None:
        return False
    return hmac.compare_digest(hmac.new(secret.encode(), body, hashlib.sha256).digest(), claimed)


def repository_key(url: str) -> str:
    """One spelling per repository: https, ssh and scp-like URLs of the same repo, or a local path, compare equal."""
    url = url.strip()
    if "://" in url:
        parts = urlsplit(url)
        if parts.scheme == "file":
            return os.path.realpath(parts.path)
        host, path = (parts.hostname or "").lower(), parts.path
    elif (scp := _SCP_LIKE.match(url)) and not url.startswith((".", "/")):
        host, path = scp.group("host").lower(), scp.group("path")
    else:
        return os.path.realpath(url)
    path = path.strip("/")
    path = path[:-4] if path.endswith(".git") else path
    return f"{host}/{path.lower()}"


def _payload_keys(repository: dict[str, Any]) -> set[str]:
    keys = set()
    for field in ("clone_url", "ssh_url", "git_url", "html_url", "url", "svn_url"):
        value = repository.get(field)
        if isinstance(value, str) and value:
            keys.add(repository_key(value))
    return keys


def pushed_stacks(payload: Any, stacks: Iterable[StackSpec]) -> list[str]:
    """Names of the stacks that track the pushed branch of the pushed repository (fixed commits never move)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("repository"), dict):
        return []
    ref = payload.get("ref")
    if not isinstance(ref, str) or not ref.startswith("refs/heads/"):
        return []
    branch = ref[len("refs/heads/"):]
    keys = _payload_keys(payload["repository"])
    return [spec.name for spec in stacks if spec.branch == branch and repository_key(spec.repo_url) in keys]


def pull_request_stacks(payload: Any, stacks: Iterable[StackSpec]) -> tuple[list[str], Optional[str]]:
    """The stacks a pull request would change once merged (those tracking its base branch), or what the payload lacks.

    Who may have it previewed is service/preview_permission.py's question.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("repository"), dict):
        return [], "not a pull_request payload: it has no repository"
    pull = payload.get("pull_request")
    if not isinstance(pull, dict) or not isinstance(pull.get("base"), dict) or not isinstance(pull.get("head"), dict):
        return [], "not a pull_request payload: it has no pull_request.base and .head"
    branch = pull["base"].get("ref")
    keys = _payload_keys(payload["repository"])
    return [spec.name for spec in stacks if spec.branch == branch and repository_key(spec.repo_url) in keys], None
