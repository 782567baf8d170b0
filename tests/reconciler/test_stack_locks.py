"""The diy backend's lock files, read from a real backend folder, and recovery that releases only dead owners' locks."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional

import pytest

from reconciler.engine.recovery import recover
from reconciler.engine.stack_locks import (
    LockWriter,
    ReplicasOnHost,
    backend_folder,
    holder_description,
    owner_is_gone,
    stack_locks,
)
from reconciler.errors import LOCK_HELD, Waiting
from reconciler.telemetry.redaction import Redactor

HOUR = 3600.0
# What this process's pulumi writes in its locks (root on the machine): the locks whose pids it judges.
THIS_PROCESS = LockWriter.of_this_process()
# A replica in a pod on this host's network: its own user (the pod's name), its own pid namespace.
IN_A_POD = LockWriter(socket.gethostname(), "reconciler-7f9c-a", judges_pids=True)


@pytest.fixture
def backend(tmp_path: Path) -> Path:
    folder = tmp_path / "backend"
    folder.mkdir()
    return folder


@pytest.fixture
def live_pid():
    """A process that started before any lock a test writes (its start time is known to /proc)."""
    process = subprocess.Popen(["sleep", "60"])
    time.sleep(0.05)
    yield process.pid
    process.kill()
    process.wait()


@pytest.fixture
def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def go_time(moment: datetime) -> str:
    """A timestamp as Go's encoding/json writes time.Time (RFC 3339 with nanoseconds)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123" + moment.strftime("%z")[:3] + ":" + moment.strftime("%z")[3:]


def write_lock(
    backend: Path, pid: Optional[int], age_s: float = 0.0, hostname: Optional[str] = None, project: str = "tiny",
    stack: str = "dev", layout: str = "project", name: str = "0a1b2c3d", username: str = THIS_PROCESS.username,
) -> Path:
    folder = backend / ".pulumi" / "locks"
    folder = folder / "organization" / project / stack if layout == "project" else folder / stack
    folder.mkdir(parents=True, exist_ok=True)
    taken = datetime.now(timezone(timedelta(hours=1))) - timedelta(seconds=age_s)
    path = folder / f"{name}.json"
    content: dict[str, Any] = {"username": username, "hostname": hostname or socket.gethostname(), "timestamp": go_time(taken)}
    if pid is not None:
        content["pid"] = pid
    path.write_text(json.dumps(content))
    return path


def only_lock(backend: Path, project: str = "tiny", stack: str = "dev"):
    locks = stack_locks(f"file://{backend}", project, stack)
    assert len(locks) == 1, locks
    return locks[0]


def test_a_lock_is_read_with_its_owner(backend):
    path = write_lock(backend, pid=4242, age_s=10, username="alice")
    lock = only_lock(backend)
    assert lock.path == path
    assert lock.pid == 4242
    assert lock.username == "alice"
    assert lock.hostname == socket.gethostname()
    assert abs(lock.taken_at - (time.time() - 10)) < 5
    assert lock.holder.startswith(f"alice@{socket.gethostname()} (pid 4242) since ")


def test_only_the_stacks_own_locks_are_read(backend):
    write_lock(backend, pid=1, project="other")
    write_lock(backend, pid=2, stack="prod")
    assert stack_locks(f"file://{backend}", "tiny", "dev") == []
    write_lock(backend, pid=3)
    assert [lock.pid for lock in stack_locks(f"file://{backend}", "tiny", "dev")] == [3]


def test_legacy_and_qualified_names_are_found(backend):
    write_lock(backend, pid=7, layout="legacy")
    assert only_lock(backend).pid == 7
    # A fully qualified stack name (org/project/stack) names the same lock folder.
    assert only_lock(backend, stack="organization/tiny/dev").pid == 7


def test_a_backend_folder_is_read_only_for_file_urls(backend):
    assert backend_folder(f"file://{backend}?no_legacy_url_encoding=true") == backend
    assert backend_folder("s3://bucket/prefix") is None
    assert stack_locks("https://api.pulumi.com", "tiny", "dev") == []
    assert stack_locks(f"file://{backend}", "tiny", "dev") == []


def test_a_live_process_on_this_host_keeps_its_lock(backend, live_pid):
    write_lock(backend, pid=live_pid, age_s=0)
    assert not owner_is_gone(only_lock(backend), time.time(), stale_after=HOUR)


def test_a_dead_process_loses_its_lock(backend, dead_pid):
    write_lock(backend, pid=dead_pid)
    assert owner_is_gone(only_lock(backend), time.time(), stale_after=HOUR)


def test_a_zombie_counts_as_dead(backend):
    process = subprocess.Popen(["true"])
    time.sleep(0.2)  # ended, not reaped yet
    try:
        write_lock(backend, pid=process.pid)
        assert owner_is_gone(only_lock(backend), time.time(), stale_after=HOUR)
    finally:
        process.wait()


def test_a_pid_reused_by_a_newer_process_loses_its_lock(backend, live_pid):
    # The lock was written ten minutes before the process now holding that pid started.
    write_lock(backend, pid=live_pid, age_s=600)
    assert owner_is_gone(only_lock(backend), time.time(), stale_after=HOUR)


def test_another_hosts_lock_is_kept_until_it_is_stale(backend, dead_pid):
    # Its pid means nothing here: even a pid dead on this host may be alive there.
    write_lock(backend, pid=dead_pid, age_s=60, hostname="build-agent-7")
    lock = only_lock(backend)
    assert not owner_is_gone(lock, time.time(), stale_after=HOUR)
    assert owner_is_gone(lock, time.time() + 2 * HOUR, stale_after=HOUR)


def test_another_hosts_lock_is_released_only_when_every_replica_there_is_fenced(backend, live_pid):
    write_lock(backend, pid=live_pid, age_s=60, hostname="reconciler-7f9c")
    lock = only_lock(backend)
    now = time.time()
    assert owner_is_gone(lock, now, HOUR, ReplicasOnHost(live=(), fenced=("reconciler-7f9c",)))
    assert not owner_is_gone(lock, now, HOUR, ReplicasOnHost(live=("reconciler-7f9c",), fenced=()))
    # Two replica ids on one host (a restart under a new id): one alive is enough to keep the lock.
    assert not owner_is_gone(lock, now, HOUR, ReplicasOnHost(live=("b",), fenced=("a",)))


def test_replicas_on_another_host_do_not_decide_for_this_hosts_processes(backend, live_pid):
    # On this host the pid tells, whatever a heartbeat says.
    write_lock(backend, pid=live_pid)
    assert not owner_is_gone(only_lock(backend), time.time(), HOUR, ReplicasOnHost(live=(), fenced=("x",)))


def test_another_users_lock_on_this_host_is_not_judged_by_its_pid(backend, dead_pid):
    # A replica in a pod on this host's network: its pid is its pod's, dead or alive here by chance.
    write_lock(backend, pid=dead_pid, username="reconciler-7f9c-b")
    lock = only_lock(backend)
    assert not owner_is_gone(lock, time.time(), stale_after=HOUR)
    assert owner_is_gone(lock, time.time() + 2 * HOUR, stale_after=HOUR)


def test_a_pod_judges_the_pids_of_its_own_locks_only(backend, dead_pid):
    write_lock(backend, pid=dead_pid, username=IN_A_POD.username)
    assert owner_is_gone(only_lock(backend), time.time(), HOUR, here=IN_A_POD)
    # The machine's engine (root) on the same host, its pid dead in the pod's eyes only.
    write_lock(backend, pid=dead_pid, username="root")
    assert not owner_is_gone(only_lock(backend), time.time(), HOUR, here=IN_A_POD)


def test_a_lock_of_another_replica_on_this_host_goes_when_that_replica_is_fenced(backend, dead_pid):
    write_lock(backend, pid=dead_pid, username="reconciler-7f9c-b")
    lock = only_lock(backend)
    now = time.time()
    assert owner_is_gone(lock, now, HOUR, ReplicasOnHost(live=("reconciler-7f9c-c",), fenced=("reconciler-7f9c-b",)), IN_A_POD)
    assert not owner_is_gone(lock, now, HOUR, ReplicasOnHost(live=("reconciler-7f9c-b",), fenced=("reconciler-7f9c-c",)), IN_A_POD)
    assert holder_description(lock, ReplicasOnHost(live=("reconciler-7f9c-c",), fenced=("reconciler-7f9c-b",)), IN_A_POD) \
        .endswith("(replica reconciler-7f9c-b, fenced)")
    # Every other replica on the host fenced says nothing of a process that is no replica (the machine's `make up`).
    write_lock(backend, pid=dead_pid, username="root")
    fenced = ReplicasOnHost(live=(), fenced=("reconciler-7f9c-b",))
    assert not owner_is_gone(only_lock(backend), now, HOUR, fenced, IN_A_POD)
    assert holder_description(only_lock(backend), fenced, IN_A_POD).endswith("(not a replica: only its age releases it)")


def test_a_live_lock_is_kept_by_a_judge_in_a_pid_namespace_of_its_own(backend, live_pid):
    """A pod on the host's network without hostPID, running as the same user: the host's live process is not in its
    /proc, and must not be taken for dead."""
    write_lock(backend, pid=live_pid)
    judge = ("import json, sys, time; from reconciler.engine.stack_locks import stack_locks, owner_is_gone; "
             f"[lock] = stack_locks({f'file://{backend}'!r}, 'tiny', 'dev'); "
             "print(json.dumps([lock.pid, __import__('os').path.exists(f'/proc/{lock.pid}'), owner_is_gone(lock, time.time(), 3600.0)]))")
    judged = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", judge],
                            capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert judged.returncode == 0, judged.stderr
    assert json.loads(judged.stdout) == [live_pid, False, False]  # not visible there, and not released


def test_a_stale_lock_is_abandoned_even_when_its_pid_lives(backend, live_pid):
    write_lock(backend, pid=live_pid, age_s=2 * HOUR)
    assert owner_is_gone(only_lock(backend), time.time(), stale_after=HOUR)


def test_an_unreadable_lock_is_aged_by_its_file(backend):
    path = write_lock(backend, pid=1)
    path.write_text("{not json")
    old = time.time() - 2 * HOUR
    os.utime(path, (old, old))
    lock = only_lock(backend)
    assert (lock.pid, lock.username, lock.hostname) == (None, "unknown", "unknown")
    assert abs(lock.taken_at - old) < 1
    assert "unknown@unknown" in lock.holder
    # Nobody can be named as its owner: only its age lets it go.
    assert owner_is_gone(lock, time.time(), stale_after=HOUR)
    assert not owner_is_gone(lock, time.time(), stale_after=3 * HOUR)


def test_a_lock_without_a_pid_on_this_host_is_kept_until_stale(backend):
    write_lock(backend, pid=None)
    lock = only_lock(backend)
    assert lock.pid is None
    assert not owner_is_gone(lock, time.time(), stale_after=HOUR)


def test_a_timestamp_in_another_form_falls_back_to_the_file_time(backend, live_pid):
    path = write_lock(backend, pid=live_pid)
    content = json.loads(path.read_text())
    content["timestamp"] = "yesterday"
    path.write_text(json.dumps(content))
    assert abs(only_lock(backend).taken_at - path.stat().st_mtime) < 1e-3


# Recovery, with a stand-in for the session (only the lock files are real here).


class FakeStack:
    def __init__(self, pending: list[dict[str, Any]]) -> None:
        self.deployment = {"pending_operations": pending} if pending else {}
        self.refreshes: list[dict[str, Any]] = []

    def export_stack(self):
        return type("Deployment", (), {"deployment": self.deployment})()

    def refresh(self, **kwargs: Any) -> None:
        self.refreshes.append(kwargs)


class FakeSession:
    def __init__(self, spec, pending: list[dict[str, Any]]) -> None:
        self.spec = spec
        self.stack = FakeStack(pending)
        self.after_runs = 0

    def after_run(self) -> None:
        self.after_runs += 1


@pytest.fixture
def spec(tiny_spec, backend):
    return dataclasses.replace(tiny_spec, backend_url=f"file://{backend}")


def test_recovery_leaves_a_live_lock_and_names_its_holder(spec, backend, live_pid):
    path = write_lock(backend, pid=live_pid, username="operator")
    session = FakeSession(spec, pending=[{"type": "creating"}])
    with pytest.raises(Waiting) as raised:
        recover(session, "tiny", Redactor([]), stale_after=HOUR, retry_in=30)
    assert raised.value.reason == LOCK_HELD
    assert raised.value.delay == 30
    assert f"operator@{socket.gethostname()} (pid {live_pid})" in raised.value.message
    assert path.exists()
    assert session.stack.refreshes == []  # nothing touched while someone else works on the stack


def test_recovery_releases_dead_locks_and_clears_pending_operations(spec, backend, dead_pid):
    mine = write_lock(backend, pid=dead_pid, name="mine")
    legacy = write_lock(backend, pid=dead_pid, layout="legacy", name="old")
    session = FakeSession(spec, pending=[{"type": "creating"}, {"type": "updating"}, {"type": "creating"}])
    recovered = recover(session, "tiny", Redactor([]), stale_after=HOUR, retry_in=30)
    assert (recovered.released_locks, recovered.cleared_operations) == (2, 3)
    assert not mine.exists() and not legacy.exists()
    assert len(session.stack.refreshes) == 1
    assert session.stack.refreshes[0]["clear_pending_creates"] is True
    assert session.after_runs == 1
    assert recovered.describe() == "2 dead lock(s) released and 3 pending operation(s) cleared"


def test_recovery_of_a_clean_stack_changes_nothing(spec):
    session = FakeSession(spec, pending=[])
    recovered = recover(session, "tiny", Redactor([]), stale_after=HOUR, retry_in=30)
    assert (recovered.released_locks, recovered.cleared_operations) == (0, 0)
    assert session.stack.refreshes == [] and session.after_runs == 0
