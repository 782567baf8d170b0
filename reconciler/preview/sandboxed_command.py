"""The Pulumi CLI as a preview runs it: only the environment it is given, a wrapper around it, and a deadline.

The SDK's PulumiCommand.run starts the CLI with `{**os.environ, **additional_env}`,
so the service's GitHub token, webhook secret and every stack's passphrase would
reach the pull request's program. This subclass starts it with `additional_env`
alone (LocalWorkspace puts its `env_vars` there), behind `prefix` (the namespace
launcher), in a process group of its own that is interrupted, then killed, when
the preview's deadline passes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from typing import Mapping, Optional, Sequence

from pulumi import automation as auto
from pulumi.automation._cmd import CommandResult, OnOutput
from pulumi.automation.errors import create_command_error

# After the deadline's SIGINT (the CLI cancels cleanly), how long before SIGKILL.
KILL_GRACE_S = 10.0


class PreviewDeadlineExceeded(Exception):
    """The preview ran past its deadline; its CLI was interrupted."""


class SandboxedPulumiCommand(auto.PulumiCommand):
    def __init__(self, base: auto.PulumiCommand, prefix: Sequence[str], deadline_at: float, timeout_s: float) -> None:
        # No super().__init__(): it runs `pulumi version` again; `base` has checked the CLI already.
        self.command = os.path.abspath(base.command) if os.path.sep in base.command else base.command
        self.version = base.version
        self._prefix = list(prefix)
        self._deadline_at = deadline_at
        self._timeout_s = timeout_s

    def run(
        self,
        args: list[str],
        cwd: str,
        additional_env: Mapping[str, str],
        on_output: Optional[OnOutput] = None,
        on_error: Optional[OnOutput] = None,
    ) -> CommandResult:
        remaining = self._deadline_at - time.monotonic()
        if remaining <= 0:
            raise PreviewDeadlineExceeded(self._deadline_message())
        if "--non-interactive" not in args:
            args.insert(0, "--non-interactive")
        env = {**additional_env, "PULUMI_AUTOMATION_API": "true"}
        stdout_lines: list[str] = []
        stderr_lines: list[str] = []
        with subprocess.Popen(
            [*self._prefix, self.command, *args], cwd=cwd, env=env, encoding="utf-8",
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, process_group=0,
        ) as process:
            readers = [
                threading.Thread(target=_consume, args=(process.stdout, on_output, stdout_lines), daemon=True),
                threading.Thread(target=_consume, args=(process.stderr, on_error, stderr_lines), daemon=True),
            ]
            for reader in readers:
                reader.start()
            timed_out = _wait(process, remaining)
            for reader in readers:
                reader.join()
        if timed_out:
            raise PreviewDeadlineExceeded(self._deadline_message())
        result = CommandResult(stdout="\n".join(stdout_lines), stderr="\n".join(stderr_lines), code=process.returncode)
        if process.returncode != 0:
            raise create_command_error(result)
        return result

    def _deadline_message(self) -> str:
        return (f"the preview ran past its deadline of {self._timeout_s:.0f}s and was stopped; "
                "make the program faster or raise previews.timeout in the reconciler config")


def _consume(stream, callback: Optional[OnOutput], lines: list[str]) -> None:
    for line in iter(stream.readline, ""):
        line = line.rstrip()
        if callback:
            callback(line)
        lines.append(line)
    stream.close()


def _wait(process: subprocess.Popen, timeout_s: float) -> bool:
    """Waits for the CLI; past the deadline its whole group gets SIGINT, then SIGKILL. True when it was stopped."""
    try:
        process.wait(timeout=timeout_s)
        return False
    except subprocess.TimeoutExpired:
        pass
    for signum, grace in ((signal.SIGINT, KILL_GRACE_S), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    return True
