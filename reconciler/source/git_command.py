"""Runs the git CLI for one repository with its credentials, without ever putting them in an argument or URL.

Credentials reach git through its environment: an `http.extraHeader` set by
GIT_CONFIG_* variables for https, GIT_SSH_COMMAND with the key file for ssh.
GIT_ALLOW_PROTOCOL keeps remote helpers such as `ext::` out even if a URL
slipped past the config checks.
"""

from __future__ import annotations

import base64
import os
import shlex
import subprocess
from pathlib import Path
from typing import Optional, Sequence

from reconciler.settings import GitCredentials

ALLOWED_PROTOCOLS = "file:https:http:ssh"
DEFAULT_TOKEN_USERNAME = "x-access-token"


class GitError(Exception):
    """git failed; `unreachable` says the remote could not be read (retry soon), not that the request was wrong."""

    def __init__(self, message: str, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


def git_environment(credentials: GitCredentials) -> dict[str, str]:
    env = {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ALLOW_PROTOCOL": ALLOWED_PROTOCOLS,
        "LC_ALL": "C",
    }
    if credentials.password is not None:
        user = credentials.username or DEFAULT_TOKEN_USERNAME
        token = base64.b64encode(f"{user}:{credentials.password.value}".encode()).decode()
        count = int(env.get("GIT_CONFIG_COUNT", "0") or 0)
        env.update(
            {
                "GIT_CONFIG_COUNT": str(count + 1),
                f"GIT_CONFIG_KEY_{count}": "http.extraHeader",
                f"GIT_CONFIG_VALUE_{count}": f"Authorization: Basic {token}",
            }
        )
    if credentials.ssh_key_file is not None:
        ssh = ["ssh", "-i", str(credentials.ssh_key_file), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"]
        if credentials.known_hosts_file is not None:
            ssh += ["-o", f"UserKnownHostsFile={credentials.known_hosts_file}", "-o", "StrictHostKeyChecking=yes"]
        env["GIT_SSH_COMMAND"] = shlex.join(ssh)
    return env


def run_git(
    args: Sequence[str],
    credentials: GitCredentials,
    cwd: Optional[Path] = None,
    timeout: float = 120.0,
    ok_codes: tuple[int, ...] = (0,),
) -> subprocess.CompletedProcess:
    """git ARGS; raises GitError with git's own message (which never holds the credentials) on other exit codes."""
    try:
        result = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=git_environment(credentials),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} did not finish within {timeout:.0f}s", unreachable=True) from None
    if result.returncode not in ok_codes:
        message = (result.stderr or result.stdout).strip() or f"exit code {result.returncode}"
        raise GitError(f"git {args[0]} failed: {message}")
    return result
