"""Which GitHub repository a stack's commits are on: the one the config names, or the one its repository URL is."""

from __future__ import annotations

from typing import Optional
from urllib.parse import urlsplit

from reconciler.service.github_webhook import repository_key
from reconciler.settings import StackSpec

GITHUB_COM_API_HOST = "api.github.com"


def github_host(api_url: str) -> str:
    """Where the API's repositories live: github.com for api.github.com, else (GitHub Enterprise) the API's own host."""
    host = (urlsplit(api_url).hostname or "").lower()
    return "github.com" if host == GITHUB_COM_API_HOST else host


def github_repository(spec: StackSpec, api_url: str) -> Optional[str]:
    """`owner/repo`, or None: the stack's commits are not on that GitHub (a local path, another host) or it is `off`."""
    if spec.github_repository is not None:
        return None if spec.github_repository == "off" else spec.github_repository
    host, _, path = repository_key(spec.repo_url).partition("/")
    if host != github_host(api_url) or path.count("/") != 1:
        return None
    return path
