"""The Pulumi CLI run under a deadline, and told apart when it did not end by itself.

The SDK's PulumiCommand.run waits for the CLI however long it takes and reports a CLI killed by a signal
like any failure. This one starts the CLI in its own process group, interrupts it at its deadline (SIGINT:
the engine cancels, finishes the steps in flight and writes its state; then SIGKILL to the whole group
after a grace period), and raises EngineInterrupted whenever the CLI ended by a signal, so the reconciler
knows its lock and pending operations may be left behind.

A fence (`fence_with`) can cut a run short from outside the same way: a replica about to lose a stack's Lease
stops its CLI before any other replica can see the Lease lapse (coordination/stack_leases.py, `StackLeases.fence`).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from typing import Callable, Mapping, Optional

from pulumi import automation as auto
from pulumi.automation._cmd import OnOutput, _fixup_path
from pulumi.automation.errors import create_command_error

from reconciler.errors import EngineInterrupted

log = logging.getLogger("reconciler.engine")
GRACE_S = 60.0
FENCE_POLL_S = 0.1  # how often a running CLI's fence is asked
# Asked while the CLI runs: None to go on, or why it must stop now.
Fence = Callable[[], Optional[str]]


class SupervisedCommand(auto.PulumiCommand):
    # A preview's sandbox (reconciler/preview) starts the CLI with its own environment only, behind a launcher.
    inherits_environment = True

    def __init__(self, root: Optional[str], deadline_s: float, grace_s: float = GRACE_S) -> None:
        super().__init__(root=root)
        self._supervise(deadline_s, grace_s)

    def _supervise(self, deadline_s: float, grace_s: float) -> None:
        """The supervision state every run reads; a subclass that skips __init__ (no second `pulumi version`) calls it."""
        self.deadline_s = deadline_s
        self.grace_s = grace_s
        self._fence: Optional[Fence] = None
        self._fence_grace_s = grace_s

    def fence_with(self, fence: Fence, grace_s: float) -> None:
        """From now on every run is interrupted (SIGINT, then SIGKILL after `grace_s`) as soon as `fence` says why."""
        self._fence, self._fence_grace_s = fence, grace_s

    def run(
        self,
        args: list[str],
        cwd: str,
        additional_env: Mapping[str, str],
        on_output: Optional[OnOutput] = None,
        on_error: Optional[OnOutput] = None,
    ) -> auto.CommandResult:
        separator = args.index("--") if "--" in args else len(args)
        if "--non-interactive" not in args[:separator]:
            args.insert(0, "--non-interactive")
        inherited = os.environ if self.inherits_environment else {}
        env = {**inherited, **additional_env, "PULUMI_AUTOMATION_API": "true"}
        if os.path.isabs(self.command):
            env = _fixup_path(env, os.path.dirname(self.command))
        stdout: list[str] = []
        stderr: list[str] = []
        with subprocess.Popen(
            [*self.launcher(), self.command, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            cwd=cwd, env=env, encoding="utf-8", start_new_session=True,
        ) as process:
            readers = [
                threading.Thread(target=_consume, args=(process.stdout, on_output, stdout), daemon=True),
                threading.Thread(target=_consume, args=(process.stderr, on_error, stderr), daemon=True),
            ]
            for reader in readers:
                reader.start()
            why, description = self._wait(process, args)
            if why is not None or process.returncode < 0:
                # Plugins and the language host left behind by a killed CLI; killed before the output is read to
                # its end, since one still holding the CLI's stdout or stderr would keep the readers waiting.
                _kill_group(process.pid)
            for reader in readers:
                reader.join()
        result = auto.CommandResult(stdout="\n".join(stdout), stderr="\n".join(stderr), code=process.returncode)
        if why is not None:
            raise EngineInterrupted(result, why, description)
        if process.returncode < 0:
            name = signal.Signals(-process.returncode).name
            raise EngineInterrupted(result, "signal", f"pulumi {_verb(args)} was killed by {name} (out of memory, or an operator)")
        if process.returncode != 0:
            raise create_command_error(result)
        return result

    def launcher(self) -> list[str]:
        """What the CLI is started behind (nothing here)."""
        return []

    def _wait(self, process: subprocess.Popen, args: list[str]) -> tuple[Optional[str], str]:
        """(None, "") when the CLI ended by itself; ("deadline" or "fence", what happened) when it had to be stopped."""
        deadline = time.monotonic() + self.deadline_s
        while True:
            fenced = self._fence() if self._fence is not None else None
            if fenced is not None:
                log.error("pulumi %s must stop: %s", _verb(args), fenced)
                self._stop(process, args, self._fence_grace_s)
                return "fence", f"pulumi {_verb(args)} was stopped: {fenced}"
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                process.wait(timeout=min(left, FENCE_POLL_S) if self._fence is not None else left)
                return None, ""
            except subprocess.TimeoutExpired:
                pass
        log.error("pulumi %s passed its deadline of %.0fs: interrupting it", _verb(args), self.deadline_s)
        self._stop(process, args, self.grace_s)
        return "deadline", f"pulumi {_verb(args)} passed its deadline of {self.deadline_s:.0f}s and was stopped"

    @staticmethod
    def _stop(process: subprocess.Popen, args: list[str], grace_s: float) -> None:
        """SIGINT to the CLI's group (the engine cancels and writes its state), SIGKILL to it after `grace_s`."""
        _signal_group(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            log.error("pulumi %s did not stop within %.0fs of SIGINT: killing it", _verb(args), grace_s)
            _kill_group(process.pid)
            process.wait()


def _consume(stream, callback: Optional[OnOutput], chunks: list[str]) -> None:
    for line in iter(stream.readline, ""):
        stripped = line.rstrip()
        if callback:
            callback(stripped)
        chunks.append(stripped)
    stream.close()


def _verb(args: list[str]) -> str:
    return next((arg for arg in args if not arg.startswith("-")), "command")


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass


def _kill_group(leader: int) -> None:
    """SIGKILL to everything the CLI started: its group, and the plugins it made leaders of groups of their own,
    found by their session (the CLI leads one: start_new_session)."""
    _signal_group(leader, signal.SIGKILL)
    for pid in _session_members(leader):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _session_members(session: int) -> list[int]:
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="utf-8", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile, or not Linux
            continue
        if int(fields[3]) == session:  # after the name: state, ppid, pgrp, session
            members.append(int(entry.name))
    return members
