"""StackWorkspace's source side on real Git repositories, and its adapters to the typed errors.

Git is real (a bare repository on disk is the remote); the engine side is a stand-in session, since only
how its failures are typed is tested here (the engine itself is in test_reconcile_faults.py).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pwd
import socket
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Optional, cast

import pytest
from pulumi import automation as auto

from reconciler import errors
from reconciler.engine.stack_session import StackSession
from reconciler.errors import EngineInterrupted, Stalled, Temporary, Waiting
from reconciler.settings import ConfigOverride, RetryPolicy
from reconciler.telemetry.redaction import Redactor
from reconciler.workspace import StackWorkspace
from testsupport.reconciler_testing import TINY_PROJECT, GitRemote
from testsupport.stub_pulumi import StubPulumi

RETRY = RetryPolicy(unreachable_delay=15, concurrent_delay=30, backoff_base=10, backoff_cap=600)
MISSING = "f" * 40


def make_workspace(spec, tmp_path: Path, redactor: Redactor | None = None) -> StackWorkspace:
    stub = StubPulumi(tmp_path / "cli")
    salts: list[str] = []
    return StackWorkspace(spec, tmp_path / "state", str(stub.root), redactor or Redactor([]), RETRY,
                          remembered_salt=lambda: None, remember_salt=salts.append)


@pytest.fixture
def first(remote: GitRemote) -> str:
    files: dict[str, Optional[str]] = dict(TINY_PROJECT)
    return remote.commit("the tiny project", files)


@pytest.fixture
def workspace(tiny_spec, tmp_path, first) -> StackWorkspace:
    return make_workspace(tiny_spec, tmp_path)


def test_the_head_follows_the_branch(workspace, remote, first):
    assert workspace.find_head() == first
    second = remote.commit("more things", {"things.txt": "a\nb\nc\nd\n"})
    assert workspace.find_head() == second


def test_a_pinned_commit_is_the_head_without_asking_the_remote(tiny_spec, tmp_path):
    pinned = dataclasses.replace(tiny_spec, branch=None, commit="1" * 40, repo_url=str(tmp_path / "nowhere"))
    assert make_workspace(pinned, tmp_path).find_head() == "1" * 40


def test_a_deleted_branch_waits_for_the_next_resync(workspace, remote, tiny_spec):
    remote.delete_branch()
    with pytest.raises(Temporary) as raised:
        workspace.find_head()
    assert raised.value.reason == errors.BRANCH_MISSING
    assert raised.value.delay == tiny_spec.resync_interval
    assert "main" in raised.value.message


def test_an_unreachable_remote_is_retried_after_the_short_delay(tiny_spec, tmp_path):
    gone = dataclasses.replace(tiny_spec, repo_url=str(tmp_path / "no-such-repo.git"))
    with pytest.raises(Temporary) as raised:
        make_workspace(gone, tmp_path).find_head()
    assert raised.value.reason == errors.SOURCE_UNREACHABLE
    assert raised.value.delay == RETRY.unreachable_delay


def test_a_check_out_is_the_commit_exactly(workspace, remote, first):
    second = remote.commit("drop c", {"things.txt": "a\nb\n"})
    workspace.check_out(first)
    assert (workspace.checkout.project_path / "things.txt").read_text() == "a\nb\nc\n"
    workspace.check_out(second)
    assert (workspace.checkout.project_path / "things.txt").read_text() == "a\nb\n"


def test_a_pinned_commit_the_remote_lacks_stalls(tiny_spec, tmp_path, first):
    pinned = dataclasses.replace(tiny_spec, branch=None, commit=MISSING)
    with pytest.raises(Stalled) as raised:
        make_workspace(pinned, tmp_path).check_out(MISSING)
    assert raised.value.reason == errors.COMMIT_MISSING
    assert MISSING in raised.value.message


def test_a_commit_without_the_project_stalls_naming_the_fix(workspace, remote):
    broken = remote.commit("moved the project away", {"Pulumi.yaml": None})
    with pytest.raises(Stalled) as raised:
        workspace.check_out(broken)
    assert raised.value.reason == errors.COMMIT_MISSING
    assert "Pulumi.yaml does not exist" in raised.value.message and "project_dir" in raised.value.message


def test_changed_files_between_two_commits(workspace, remote, first):
    second = remote.commit("edit", {"things.txt": "a\n", "manifests/web app.yaml": "kind: Deployment\n", "fail.txt": None})
    assert workspace.changed_files(first, second) is None  # nothing fetched yet: unknown
    workspace.check_out(second)
    assert sorted(workspace.changed_files(first, second)) == ["manifests/web app.yaml", "things.txt"]
    assert workspace.changed_files(second, second) == []
    assert workspace.changed_files(MISSING, second) is None


def test_a_diff_against_a_commit_git_cannot_read_is_a_source_error(workspace, first):
    workspace.check_out(first)
    with pytest.raises(Temporary) as raised:
        workspace.changed_files(first, "not-a-commit")
    assert raised.value.reason == errors.SOURCE_ERROR


def test_a_file_at_a_commit(workspace, remote, first):
    second = remote.commit("drop things", {"things.txt": None})
    workspace.check_out(second)
    assert workspace.file_at(first, "things.txt") == "a\nb\nc\n"
    assert workspace.file_at(second, "things.txt") is None
    assert workspace.file_at(MISSING, "things.txt") is None


def test_allow_deletes_trailers_since_the_last_applied_commit(workspace, remote, first):
    remote.commit("drop b\n\nAllow-Deletes: 2", {"things.txt": "a\nc\n"})
    third = remote.commit("unrelated", {"README": "x\n"})
    workspace.check_out(third)
    assert workspace.allowed_deletes(first, third) == 2
    assert workspace.allowed_deletes(None, third) is None  # the new commit alone has no trailer


# The engine side: how a stand-in session's failures come out of the workspace.


class FailingStack:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def up(self, **kwargs: Any) -> Any:
        raise self.error

    preview = preview_refresh = up

    def export_stack(self) -> Any:
        return SimpleNamespace(deployment={})


class StandInSession:
    def __init__(self, spec, error: Exception, reachable: bool = True) -> None:
        self.spec = spec
        self.stack = FailingStack(error)
        self.reachable = reachable

    def backend_reachable(self) -> bool:
        return self.reachable

    def after_run(self) -> None:
        pass

    def prepare(self) -> None:
        raise self.stack.error


def result(stdout: str = "", stderr: str = "", code: int = 1) -> auto.CommandResult:
    return auto.CommandResult(stdout=stdout, stderr=stderr, code=code)


def with_session(workspace: StackWorkspace, error: Exception, reachable: bool = True) -> StackWorkspace:
    workspace._session = cast(StackSession, StandInSession(workspace.spec, error, reachable))
    return workspace


def test_a_program_failure_is_a_bounded_temporary_error(workspace):
    with_session(workspace, auto.errors.RuntimeError(result(stdout="an unhandled error occurred: boom")))
    with pytest.raises(Temporary) as raised:
        workspace.up("a" * 40, refresh=False)
    assert raised.value.reason == errors.PROGRAM_ERROR
    assert raised.value.bounded


def test_a_lock_held_elsewhere_waits(workspace):
    with_session(workspace, auto.ConcurrentUpdateError(result(stderr="the stack is currently locked by 1 lock(s)")))
    with pytest.raises(Waiting) as raised:
        workspace.preview("a" * 40, refresh=False)
    assert raised.value.reason == errors.LOCK_HELD
    assert raised.value.delay == RETRY.concurrent_delay


def test_an_unreachable_backend_is_told_apart_from_a_failed_run(workspace):
    with_session(workspace, auto.CommandError(result(stderr="error: could not read")), reachable=False)
    with pytest.raises(Temporary) as raised:
        workspace.drift("a" * 40)
    assert raised.value.reason == errors.BACKEND_UNREACHABLE
    assert raised.value.delay == RETRY.unreachable_delay
    with_session(workspace, auto.CommandError(result(stderr="error: could not read")), reachable=True)
    with pytest.raises(Temporary) as raised:
        workspace.drift("a" * 40)
    assert raised.value.reason == errors.ENGINE_ERROR


def test_a_failed_prepare_is_typed_and_redacted_and_the_secret_overrides_are_learned(workspace, tiny_spec):
    spec = dataclasses.replace(tiny_spec, config=(ConfigOverride("tiny:token", "rotated-token-42", secret=True),))
    with_session(workspace, auto.CommandError(result(stderr="error: setting tiny:token=rotated-token-42 failed")))
    with pytest.raises(Temporary) as raised:
        workspace.prepare(spec)
    assert "rotated-token-42" not in raised.value.message
    assert workspace.redactor.redact("x rotated-token-42 y") != "x rotated-token-42 y"
    assert workspace.session.spec is spec


def test_a_killed_cli_is_interrupted_and_a_deadline_is_named(workspace):
    with_session(workspace, EngineInterrupted(result(code=-9), "signal", "pulumi up was killed by SIGKILL"))
    with pytest.raises(Temporary) as raised:
        workspace.up("a" * 40, refresh=False)
    assert raised.value.reason == errors.INTERRUPTED
    assert "SIGKILL" in raised.value.message
    with_session(workspace, EngineInterrupted(result(code=-2), "deadline", "pulumi up passed its deadline of 5s"))
    with pytest.raises(Temporary) as raised:
        workspace.up("a" * 40, refresh=False)
    assert raised.value.reason == errors.DEADLINE_EXCEEDED


def test_recovery_reads_the_project_name_from_the_checkout(workspace, first, tiny_spec):
    # A live lock of the checked-out project ("tiny") on this host, by this user (so its pid is judged here):
    # recovery waits, it never deletes it; once the holder is gone, it is released.
    workspace.check_out(first)
    with_session(workspace, RuntimeError("never called"))
    holder = subprocess.Popen(["sleep", "60"])
    try:
        folder = Path(tiny_spec.backend_url[len("file://"):]) / ".pulumi" / "locks" / "organization" / "tiny" / "dev"
        folder.mkdir(parents=True)
        lock = folder / "1.json"
        lock.write_text(json.dumps({"pid": holder.pid, "username": pwd.getpwuid(os.getuid()).pw_name,
                                    "hostname": socket.gethostname(),
                                    "timestamp": datetime.now(timezone.utc).isoformat()}))
        with pytest.raises(Waiting) as raised:
            workspace.recover()
        assert raised.value.reason == errors.LOCK_HELD
        assert lock.exists()
    finally:
        holder.kill()
        holder.wait()
    assert workspace.recover().released_locks == 1
    assert not lock.exists()
