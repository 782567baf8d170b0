"""Each defect the reconcile core was rebuilt for, on the real engine: signals, live locks, rewritten history,
programs that fail for a while, config that changes under a commit, operations past their deadline."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from reconciler.status.store import StatusStore
from testsupport.process_tree import children
from testsupport.reconciler_testing import (
    PROJECT_DIR,
    TINY_PROJECT,
    free_port,
    json_lines,
    kill_mid_update,
    run_cli,
    stack_locks,
    tiny_stack,
    tiny_stack_history,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def tiny(remote):
    remote.commit("tiny project", TINY_PROJECT)
    return remote


def pulumi_env(engine_env: dict, backend: Path) -> dict:
    return {**engine_env, "PULUMI_BACKEND_URL": f"file://{backend}", "PULUMI_CONFIG_PASSPHRASE": engine_env["TINY_PASSPHRASE"]}


def pulumi_child(pid: int) -> int:
    for child in children(pid):
        try:
            argv = (Path("/proc") / str(child) / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == b"pulumi" and b"up" in argv:
            return child
    return 0


def history(backend: Path, engine_env: dict, clone: Path) -> list[dict]:
    return tiny_stack_history(clone, backend, engine_env, "dev")


def assert_no_overlap(updates: list[dict]) -> None:
    spans = sorted((u["startTime"], u.get("endTime") or u["startTime"]) for u in updates)
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert start >= end, f"two updates of one stack overlapped: {spans}"


def test_a_pulumi_cli_killed_alone_is_interrupted_and_recovered_at_the_next_pass(tiny, tmp_path, engine_env):
    backend = tmp_path / "backend"
    config = write_config(tmp_path / "reconciler.yaml", [tiny_stack(tiny, backend)])
    assert run_cli("once", "--config", str(config), env=engine_env).returncode == 0
    tiny.commit("a slow update", {"slow.txt": "60", "things.txt": "a\nb\nc\nd\n"})

    once = subprocess.Popen([str(PROJECT_DIR / ".venv/bin/python"), "-m", "reconciler", "once", "--config", str(config), "--json"],
                            cwd=PROJECT_DIR, env=engine_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cli = wait_for(lambda: stack_locks(backend) and pulumi_child(once.pid), 120, "the update to hold the lock")
    os.kill(cli, signal.SIGKILL)  # what the OOM killer does to the biggest process
    out, err = once.communicate(timeout=120)

    assert once.returncode == 1, err
    [killed] = json_lines(out)
    assert killed["result"] == "failed" and killed["reason"] == "Interrupted" and "SIGKILL" in killed["error"]
    assert stack_locks(backend), "the killed CLI left its lock"

    tiny.commit("not slow any more", {"slow.txt": None})
    again = run_cli("once", "--config", str(config), "--json", env=engine_env)

    assert again.returncode == 0, again.stderr
    assert json_lines(again.stdout)[0]["result"] == "applied"
    assert not stack_locks(backend)
    assert "released the lock of" in again.stderr
    status = json_lines(run_cli("status", "--config", str(config), "--json", env=engine_env).stdout)[0]
    assert status["ready"] is True and status["needs_recovery"] is False


def test_an_operators_live_lock_is_never_released_by_recovery(tiny, tmp_path, engine_env, start_service):
    backend = tmp_path / "backend"
    port = free_port()
    config = write_config(tmp_path / "reconciler.yaml", [tiny_stack(tiny, backend)], listen=f"127.0.0.1:{port}")
    kill_mid_update(start_service(config, engine_env, port), tiny, backend)

    # The operator clears the dead lock by hand and runs their own (slow) update.
    operator = tmp_path / "operator"
    subprocess.run(["git", "clone", "--quiet", str(tiny.bare), str(operator)], check=True)
    (operator / ".venv").symlink_to(PROJECT_DIR / ".venv")
    (operator / "slow.txt").write_text("20")
    env = pulumi_env(engine_env, backend)
    subprocess.run(["pulumi", "--non-interactive", "cancel", "--yes", "--stack", "dev"], cwd=operator, env=env, check=True,
                   capture_output=True)
    person = subprocess.Popen(["pulumi", "--non-interactive", "up", "--yes", "--skip-preview", "--stack", "dev"],
                              cwd=operator, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        [held] = wait_for(lambda: stack_locks(backend), 60, "the operator's lock")
        result = run_cli("once", "--config", str(config), "--json", env=engine_env)
        assert held.exists(), "recovery deleted a live update's lock"
    finally:
        assert person.wait(timeout=180) == 0, "the operator's update must finish on its own"

    assert result.returncode == 1
    [line] = json_lines(result.stdout)
    assert line["reason"] == "LockHeld" and f"(pid {person.pid})" in line["error"]
    after = run_cli("once", "--config", str(config), "--json", env=engine_env)
    assert after.returncode == 0 and json_lines(after.stdout)[0]["result"] == "applied", after.stderr
    assert_no_overlap(history(backend, engine_env, operator))


def test_recovery_works_after_the_interrupted_commit_was_force_pushed_away(tiny, tmp_path, engine_env, start_service):
    backend = tmp_path / "backend"
    port = free_port()
    config = write_config(tmp_path / "reconciler.yaml", [tiny_stack(tiny, backend)], listen=f"127.0.0.1:{port}")
    base = tiny.head()
    doomed = kill_mid_update(start_service(config, engine_env, port), tiny, backend, "a slow update that will be rewritten away")
    tiny.reset_and_force_push(base)
    head = tiny.commit("the rewritten history", {"things.txt": "a\nb\n"})
    subprocess.run(["git", "gc", "--quiet", "--prune=now"], cwd=tiny.bare, check=True)

    result = run_cli("once", "--config", str(config), "--json", env=engine_env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert json_lines(result.stdout)[0] | {"duration_s": 0, "changes": None} == {
        "stack": "tiny", "commit": head, "result": "applied", "reason": None, "error": None, "duration_s": 0, "changes": None,
    }
    assert not stack_locks(backend)
    store = StatusStore(tmp_path / "reconciler-state" / "status.sqlite", read_only=True)
    runs = {run["commit"]: (run["result"], run["reason"]) for run in store.runs("tiny")}
    store.close()
    assert runs[doomed] == ("failed", "Interrupted") and runs[head] == ("applied", None)


def test_a_transient_program_failure_is_retried_by_the_service_and_clears_without_a_commit(tiny, tmp_path, engine_env, start_service):
    backend = tmp_path / "backend"
    trouble = tmp_path / "trouble"
    trouble.write_text("the token endpoint is down\n")
    port = free_port()
    config = write_config(
        tmp_path / "reconciler.yaml", [tiny_stack(tiny, backend, resync_interval="1h", env={"TINY_FAIL_WHILE": str(trouble)})],
        listen=f"127.0.0.1:{port}", retry={"backoff_base": "1s", "backoff_cap": "2s"},
    )
    service = start_service(config, engine_env, port)
    service.wait_until(lambda: service.stack("tiny")["failures"] >= 1, 120, "the first failure")
    entry = service.stack("tiny")
    assert entry["reason"] == "ProgramError" and entry["retry_at"] is not None and not entry["ready"]

    trouble.unlink()
    service.wait_until(lambda: service.stack("tiny")["last_applied_commit"] == tiny.head(), 120, "the retry to apply")
    assert service.stack("tiny")["ready"] is True and service.stack("tiny")["failures"] == 0
    assert service.stop() == 0


def test_a_program_that_keeps_failing_stalls_after_its_retries(tiny, tmp_path, engine_env, start_service):
    trouble = tmp_path / "trouble"
    trouble.write_text("down for good\n")
    port = free_port()
    config = write_config(
        tmp_path / "reconciler.yaml",
        [tiny_stack(tiny, tmp_path / "backend", resync_interval="1h", program_retries=2, env={"TINY_FAIL_WHILE": str(trouble)})],
        listen=f"127.0.0.1:{port}", retry={"backoff_base": "1s", "backoff_cap": "1s"},
    )
    service = start_service(config, engine_env, port)
    stalled = service.wait_until(
        lambda: next((c for c in service.stack("tiny")["conditions"] if c["type"] == "Stalled" and c["status"] == "True"), None),
        180, "the stack to stall",
    )
    assert stalled["reason"] == "ProgramError" and service.stack("tiny")["failures"] == 3
    assert service.stack("tiny")["retry_at"] is None
    assert service.stop() == 0


def test_a_changed_config_override_or_rotated_secret_file_is_applied_without_a_commit(tiny, tmp_path, engine_env):
    backend = tmp_path / "backend"
    token = tmp_path / "token"
    token.write_text("first-token-3c1d\n")

    def config(greeting: str) -> Path:
        stack = tiny_stack(tiny, backend, config={"tiny:greeting": greeting, "tiny:token": {"secret_file": str(token)}})
        return write_config(tmp_path / "reconciler.yaml", [stack])

    assert run_cli("once", "--config", str(config("hello")), env=engine_env).returncode == 0
    unchanged = run_cli("once", "--config", str(config("hello")), "--json", env=engine_env)
    changed = run_cli("once", "--config", str(config("bonjour")), "--json", env=engine_env)
    token.write_text("rotated-token-8e2f\n")
    rotated = run_cli("once", "--config", str(config("bonjour")), "--json", env=engine_env)

    assert json_lines(unchanged.stdout)[0]["result"] == "skipped"
    assert json_lines(changed.stdout)[0]["result"] == "applied"
    assert json_lines(rotated.stdout)[0]["result"] == "applied"
    outputs = subprocess.run(["pulumi", "--non-interactive", "stack", "output", "--json", "--show-secrets", "--stack", "dev"],
                             cwd=tiny.clone, env=pulumi_env(engine_env, backend), capture_output=True, text=True, check=True)
    assert json.loads(outputs.stdout) == {"greeting": "bonjour", "token": "rotated-token-8e2f"}
    for result in (changed, rotated):
        assert "rotated-token-8e2f" not in result.stdout + result.stderr


def test_an_operation_past_its_deadline_is_stopped_recorded_and_recovered(tiny, tmp_path, engine_env):
    backend = tmp_path / "backend"
    config = write_config(tmp_path / "reconciler.yaml", [tiny_stack(tiny, backend, operation_timeout="8s")])
    assert run_cli("once", "--config", str(config), env=engine_env).returncode == 0
    tiny.commit("a hung program", {"slow.txt": "600", "things.txt": "a\nb\nc\nd\n"})

    started = time.monotonic()
    hung = run_cli("once", "--config", str(config), "--json", env=engine_env, timeout=300)
    took = time.monotonic() - started

    assert hung.returncode == 1
    [line] = json_lines(hung.stdout)
    assert line["reason"] == "DeadlineExceeded" and took < 120
    tiny.commit("not hung", {"slow.txt": None})
    fixed = run_cli("once", "--config", str(config), "--json", env=engine_env)
    assert fixed.returncode == 0 and json_lines(fixed.stdout)[0]["result"] == "applied", fixed.stderr
    assert not stack_locks(backend)
