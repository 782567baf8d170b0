"""Helpers of the reconciler tests: real Git remotes, config files, and the reconciler run as its users run it.

Everything is real: a bare repository on disk is the remote, commits are pushed
from a separate clone with the git CLI, the reconciler runs as
`python -m reconciler ...` in a subprocess, and the engine is the pinned
`pulumi` CLI with a file backend.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Optional

import yaml

from testsupport.process_tree import kill_tree

PROJECT_DIR = Path(__file__).resolve().parents[1]
PYTHON = str(PROJECT_DIR / ".venv" / "bin" / "python")


def git(*args: str, cwd: Path) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed in {cwd}:\n{result.stderr}")
    return result.stdout.strip()


class GitRemote:
    """A bare repository (the remote the reconciler watches) and a clone that commits and pushes to it."""

    def __init__(self, root: Path, branch: str = "main") -> None:
        self.bare = root / "remote.git"
        self.clone = root / "author"
        self.branch = branch
        root.mkdir(parents=True, exist_ok=True)
        git("init", "--quiet", "--bare", f"--initial-branch={branch}", str(self.bare), cwd=root)
        git("init", "--quiet", f"--initial-branch={branch}", str(self.clone), cwd=root)
        # Hosting services let a tracked branch be deleted; a bare repo refuses its HEAD branch unless told.
        git("config", "receive.denyDeleteCurrent", "ignore", cwd=self.bare)
        for key, value in (("user.name", "Author"), ("user.email", "author@example.com"), ("commit.gpgsign", "false")):
            git("config", key, value, cwd=self.clone)

    def write(self, files: dict[str, Optional[str]]) -> None:
        """Writes (or, for None, deletes) files in the clone."""
        for relative, content in files.items():
            path = self.clone / relative
            if content is None:
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(content) if content.startswith("\n") else content)

    def commit(self, message: str, files: Optional[dict[str, Optional[str]]] = None, push: bool = True) -> str:
        self.write(files or {})
        git("add", "--all", cwd=self.clone)
        git("commit", "--quiet", "--allow-empty", "-m", message, cwd=self.clone)
        sha = git("rev-parse", "HEAD", cwd=self.clone)
        if push:
            self.push()
        return sha

    def push(self, force: bool = False) -> None:
        git("push", "--quiet", *(["--force"] if force else []), str(self.bare), f"HEAD:refs/heads/{self.branch}", cwd=self.clone)

    def reset_and_force_push(self, commit: str) -> None:
        git("reset", "--quiet", "--hard", commit, cwd=self.clone)
        self.push(force=True)

    def delete_branch(self) -> None:
        git("push", "--quiet", str(self.bare), f":refs/heads/{self.branch}", cwd=self.clone)

    def last_change(self, path: str) -> str:
        """The last commit (at the clone's HEAD) that touched `path`."""
        return git("log", "-1", "--format=%H", "--", path, cwd=self.clone)

    def head(self) -> str:
        return git("rev-parse", f"refs/heads/{self.branch}", cwd=self.bare)


# A Pulumi project with no provider at all: one ComponentResource per line of
# things.txt. The real engine creates, deletes and diffs them in about a second.
TINY_PROJECT = {
    "Pulumi.yaml": "name: tiny\nruntime:\n  name: python\n  options:\n    toolchain: pip\n    virtualenv: .venv\n",
    "Pulumi.dev.yaml": "config:\n  tiny:greeting: hello\n",
    "__main__.py": textwrap.dedent(
        """\
        import os
        import time
        from pathlib import Path

        import pulumi

        config = pulumi.Config()
        if Path("fail.txt").exists():
            raise ValueError("fail.txt: " + Path("fail.txt").read_text().strip())
        if Path("leak.txt").exists():
            # A careless program: prints a config value or an environment variable in its error.
            source, _, name = Path("leak.txt").read_text().strip().partition(":")
            value = config.get(name) if source == "config" else os.environ.get(name)
            raise ValueError(f"a careless program prints {name}: {value}")
        failing_while = os.environ.get("TINY_FAIL_WHILE")
        if failing_while and Path(failing_while).exists():
            # A failure outside the commit (a token call, a file being rewritten): it clears by itself.
            raise RuntimeError(f"transient trouble while {failing_while} exists")
        if Path("slow.txt").exists() and not pulumi.runtime.is_dry_run():
            time.sleep(float(Path("slow.txt").read_text()))
        for name in Path("things.txt").read_text().split():
            pulumi.ComponentResource("tiny:index:Thing", name)
        pulumi.export("greeting", config.get("greeting"))
        pulumi.export("token", config.get_secret("token"))
        """
    ),
    "things.txt": "a\nb\nc\n",
    ".gitignore": ".venv\n__pycache__/\n",
}


def write_config(path: Path, stacks: list[dict[str, Any]], **top: Any) -> Path:
    document = {"state_dir": str(path.parent / "reconciler-state"), "listen": "127.0.0.1:0", **top, "stacks": stacks}
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def tiny_stack(remote: GitRemote, backend: Path, **overrides: Any) -> dict[str, Any]:
    entry = {
        "name": "tiny",
        "repo": {"url": str(remote.bare)},
        "branch": remote.branch,
        "stack": "dev",
        "backend_url": f"file://{backend}",
        "secrets_passphrase": {"env": "TINY_PASSPHRASE"},
        "resync_interval": "2s",
        "drift_interval": "off",
        "virtualenv": str(PROJECT_DIR / ".venv"),
    }
    entry.update(overrides)
    return entry


def tools_environment() -> dict[str, str]:
    """The environment `source tools/env.sh` gives: the pinned pulumi CLI and its plugins."""
    dump = subprocess.run(
        ["bash", "-c", "source tools/env.sh && env -0"], cwd=PROJECT_DIR, capture_output=True, check=True
    ).stdout
    return dict(item.split("=", 1) for item in dump.decode().split("\0") if "=" in item)


def run_cli(*args: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    """`python -m reconciler ARGS` exactly as a user types it."""
    return subprocess.run(
        [PYTHON, "-m", "reconciler", *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=timeout
    )


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """The predicate's first truthy value, polled until `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServiceProcess:
    """`python -m reconciler run` in its own process group, as a supervisor would run it."""

    def __init__(self, config: Path, env: dict[str, str], log_path: Path, port: int) -> None:
        self.port = port
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.process = subprocess.Popen(
            [PYTHON, "-m", "reconciler", "run", "--config", str(config)],
            cwd=PROJECT_DIR, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.wait_until(lambda: self.get("/healthz")[0] == 200, 60, "the service to answer /healthz")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url(path), timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except OSError:
            return 0, b""

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        request = urllib.request.Request(self.url(path), data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def stack(self, name: str) -> dict[str, Any]:
        status, body = self.get("/status")
        assert status == 200, body
        return next(entry for entry in json.loads(body)["stacks"] if entry["stack"] == name)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the service exited ({self.process.returncode}) waiting for {what}:\n{self.log()[-4000:]}")
            value = predicate()
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}:\n{self.log()[-4000:]}")

    def kill_hard(self) -> None:
        """SIGKILL to the service and every process below it (its pulumi engines and their plugins), like a killed pod."""
        kill_tree(self.process.pid)
        self.process.wait(timeout=30)
        self._log.close()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        self._log.close()
        return self.process.returncode


def tiny_stack_history(clone: Path, backend: Path, env: dict[str, str], stack: str) -> list[dict[str, Any]]:
    """A tiny stack's updates as the file backend recorded them (`pulumi stack history`), newest first."""
    result = subprocess.run(
        ["pulumi", "--non-interactive", "stack", "history", "--json", "--stack", stack], cwd=clone,
        env={**env, "PULUMI_BACKEND_URL": f"file://{backend}", "PULUMI_CONFIG_PASSPHRASE": env["TINY_PASSPHRASE"]},
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def stack_locks(backend: Path) -> list[Path]:
    """The lock files a file backend holds for its stacks: one per update in progress (or left by a dead one)."""
    return list(backend.glob(".pulumi/locks/**/*.json"))


def kill_mid_update(service: ServiceProcess, remote: GitRemote, backend: Path, message: str = "a slow update") -> str:
    """After the service's first apply of the tiny project, commits a slow update and SIGKILLs the service (and its
    pulumi children) while that update holds the stack's lock; returns the slow commit."""
    service.wait_until(lambda: service.stack("tiny")["last_applied_commit"] == remote.head(), 120, "the first apply")
    slow = remote.commit(message, {"slow.txt": "60", "things.txt": "a\nb\nc\nd\n"})
    service.wait_until(lambda: stack_locks(backend) and "Updating (dev)" in service.log(), 120, "the update to hold the stack's lock")
    service.kill_hard()
    return slow

