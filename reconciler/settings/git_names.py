"""Checks that a repository URL and a branch can never be read by git as an option or a helper.

git treats an argument starting with `-` as an option, and `<transport>::<address>`
(e.g. `ext::sh -c ...`) as a remote helper that may run commands, so both are
refused here, before anything reaches git.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

URL_SCHEMES = ("https", "http", "ssh", "file")
_SCP_LIKE = re.compile(r"^(?:[A-Za-z0-9._~-]+@)?(?P<host>[A-Za-z0-9.-]+):(?P<path>[^/].*|/.*)$")
_HELPER = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
_COMMIT = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")


class GitNameError(ValueError):
    pass


def repository_kind(url: str, base_dir: Path) -> tuple[str, str]:
    """('url' | 'scp' | 'path', the URL to give git); raises GitNameError naming what is wrong."""
    if not isinstance(url, str) or not url.strip():
        raise GitNameError("is empty; give an https/ssh URL or a local path")
    if url != url.strip() or any(ord(c) < 32 or c == "\x7f" for c in url):
        raise GitNameError(f"{url!r} has spaces or control characters at its ends or inside")
    if url.startswith("-"):
        raise GitNameError(f"{url!r} starts with '-', which git would read as an option")
    if _HELPER.match(url) or "::" in url.split("/", 1)[0]:
        raise GitNameError(f"{url!r} names a git remote helper (`<transport>::`), e.g. ext::, which can run commands")
    if "://" in url:
        return "url", _checked_url(url, base_dir)
    scp = _SCP_LIKE.match(url)
    if scp and not url.startswith((".", "/")):
        return "scp", url
    path = (base_dir / url).resolve()
    if not path.is_dir():
        raise GitNameError(f"{url!r} is neither a URL ({', '.join(URL_SCHEMES)}, or user@host:path) nor an existing folder ({path})")
    return "path", str(path)


def _checked_url(url: str, base_dir: Path) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in URL_SCHEMES:
        raise GitNameError(f"{url!r} uses the scheme {scheme!r}; use one of {', '.join(URL_SCHEMES)}")
    if parts.password is not None or (scheme in ("https", "http") and parts.username is not None):
        raise GitNameError(
            "has credentials in it; URLs are logged, so put them under repo.credentials (from an env var or file)"
        )
    if scheme == "file":
        path = Path(parts.path)
        if not path.is_absolute():
            path = (base_dir / (parts.netloc + parts.path)).resolve()
        if not path.is_dir():
            raise GitNameError(f"{url!r} points at {path}, which is not an existing folder")
        return str(path)
    if not parts.hostname:
        raise GitNameError(f"{url!r} has no host")
    return url


def check_branch(branch: str) -> None:
    if not isinstance(branch, str) or not branch:
        raise GitNameError("is empty")
    if branch.startswith("-"):
        raise GitNameError(f"{branch!r} starts with '-', which git would read as an option")
    if branch.startswith("refs/"):
        raise GitNameError(f"{branch!r}: give the branch name without refs/heads/")
    # git itself is the authority on what a branch may be called.
    result = subprocess.run(
        ["git", "check-ref-format", f"refs/heads/{branch}"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise GitNameError(f"{branch!r} is not a valid branch name (see `git help check-ref-format`)")


def check_commit(commit: str) -> None:
    if not isinstance(commit, str) or not _COMMIT.match(commit):
        raise GitNameError(f"{commit!r} is not a full commit hash (40 lowercase hex digits)")

