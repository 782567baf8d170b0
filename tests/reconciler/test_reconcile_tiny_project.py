"""`python -m reconciler once|status|run` with the real engine on a provider-free project (seconds per run).

The project's resources are ComponentResources, so the real engine creates,
deletes and locks them without any cluster; what needs the cluster is in
test_local_cluster.py.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from reconciler.status.store import StatusStore
from testsupport.reconciler_testing import (
    PROJECT_DIR,
    TINY_PROJECT,
    free_port,
    json_lines,
    kill_mid_update,
    run_cli,
    stack_locks,
    tiny_stack,
    write_config,
)

pytestmark = pytest.mark.e2e
CHANGE_KEYS = {"create", "update", "replace", "delete", "same"}


@pytest.fixture
def tiny(remote, tmp_path):
    remote.commit("tiny project", TINY_PROJECT)
    # The author runs pulumi in the clone too; .venv is ignored by Git, like in this repository.
    (remote.clone / ".venv").symlink_to(PROJECT_DIR / ".venv")
    return remote


def pulumi_in_clone(remote, env: dict, backend: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """The plain pulumi CLI in the author's clone, as a person runs it next to the reconciler."""
    return subprocess.run(
        ["pulumi", "--non-interactive", *args], cwd=remote.clone, capture_output=True, text=True, timeout=timeout,
        env={**env, "PULUMI_BACKEND_URL": f"file://{backend}", "PULUMI_CONFIG_PASSPHRASE": env["TINY_PASSPHRASE"]},
    )


def test_once_applies_then_skips_and_prints_the_json_contract(tiny, tmp_path, engine_env):
    config = write_config(tmp_path / "reconciler.yaml", [tiny_stack(tiny, tmp_path / "backend")])

    first = run_cli("once", "--config", str(config), "--json", env=engine_env)
    second = run_cli("once", "--config", str(config), "--json", env=engine_env)
    human = run_cli("status", "--config", str(config), env=engine_env)
    as_json = run_cli("status", "--config", str(config), "--json", env=engine_env)

    assert first.returncode == 0, first.stderr
    [line] = json_lines(first.stdout)
    assert set(line) == {"stack", "commit", "result", "reason", "changes", "duration_s", "error"}
    assert set(line["changes"]) == CHANGE_KEYS
    assert (line["stack"], line["commit"], line["result"], line["reason"], line["error"]) == ("tiny", tiny.head(), "applied", None, None)
    assert line["changes"]["create"] == 4 and line["duration_s"] > 0
    assert second.returncode == 0 and json_lines(second.stdout)[0]["result"] == "skipped"
    assert human.returncode == 0 and human.stdout.startswith("tiny") and tiny.head()[:12] in human.stdout
    [entry] = json_lines(as_json.stdout)
    assert entry["last_applied_commit"] == tiny.head() and entry["result"] == "applied" and entry["ready"] is True
    assert {c["type"]: c["status"] for c in entry["conditions"]} == {"Ready": "True", "Reconciling": "False", "Stalled": "False"}


def test_a_program_error_fails_keeps_the_last_state_and_the_next_commit_recovers(tiny, tmp_path, engine_env):
    config = write_config(tmp_path / "reconciler.yaml", [tiny_stack(tiny, tmp_path / "backend")])
    good = json_lines(run_cli("once", "--config", str(config), "--json", env=engine_env).stdout)[0]
    tiny.commit("broken", {"fail.txt": "things.txt names a thing twice\n", "things.txt": "a\nb\nc\nd\n"})

    broken = run_cli("once", "--config", str(config), "--json", env=engine_env)
    again = run_cli("once", "--config", str(config), "--json", env=engine_env)
    fixed_commit = tiny.commit("fixed", {"fail.txt": None})
    fixed = run_cli("once", "--config", str(config), "--json", env=engine_env)

    assert good["result"] == "applied"
    assert broken.returncode == 1
    [failure] = json_lines(broken.stdout)
    assert failure["result"] == "failed" and "fail.txt: things.txt names a thing twice" in failure["error"]
    assert failure["reason"] == "ProgramError"
    assert failure["changes"]["create"] == 0, "nothing was applied"
    assert again.returncode == 1 and json_lines(again.stdout)[0]["result"] == "failed", "once re-checks a failed head"
    [recovered] = json_lines(fixed.stdout)
    assert (recovered["result"], recovered["commit"]) == ("applied", fixed_commit)
    assert recovered["changes"]["create"] == 1, "only d is new: the broken commit applied nothing"
    runs = json_lines(run_cli("status", "--config", str(config), "--json", env=engine_env).stdout)
    assert runs[0]["last_applied_commit"] == fixed_commit


def test_the_deletion_guard_blocks_until_a_trailer_allows_it(tiny, tmp_path, engine_env):
    config = write_config(tmp_path / "reconciler.yaml", [tiny_stack(tiny, tmp_path / "backend", deletion_guard=1)])
    assert run_cli("once", "--config", str(config), env=engine_env).returncode == 0
    tiny.commit("drop two things", {"things.txt": "a\n"})

    blocked = run_cli("once", "--config", str(config), "--json", env=engine_env)
    tiny.commit("not enough\n\nAllow-Deletes: 1")
    still = run_cli("once", "--config", str(config), "--json", env=engine_env)
    allowed_commit = tiny.commit("allow it\n\nAllow-Deletes: 2")
    allowed = run_cli("once", "--config", str(config), "--json", env=engine_env)

    assert blocked.returncode == 1
    [line] = json_lines(blocked.stdout)
    assert line["result"] == "blocked" and line["reason"] == "DeletionGuard" and line["changes"]["delete"] == 2
    assert "Allow-Deletes: 2" in line["error"] and "tiny:index:Thing::b" in line["error"] and "::c" in line["error"]
    assert json_lines(still.stdout)[0]["result"] == "blocked"
    assert allowed.returncode == 0, allowed.stderr
    assert json_lines(allowed.stdout)[0] | {"duration_s": 0} == {
        "stack": "tiny", "commit": allowed_commit, "result": "applied", "reason": None, "duration_s": 0, "error": None,
        "changes": {"create": 0, "update": 0, "replace": 0, "delete": 2, "same": 2},
    }


def test_commits_outside_the_path_filters_are_skipped(tiny, tmp_path, engine_env):
    config = write_config(tmp_path / "reconciler.yaml", [tiny_stack(tiny, tmp_path / "backend", paths=["things.txt"])])
    assert run_cli("once", "--config", str(config), env=engine_env).returncode == 0
    readme = tiny.commit("docs", {"README.md": "docs only\n"})

    skipped = run_cli("once", "--config", str(config), "--json", env=engine_env)
    tiny.commit("a thing", {"things.txt": "a\nb\nc\nd\n"})
    applied = run_cli("once", "--config", str(config), "--json", env=engine_env)

    assert json_lines(skipped.stdout)[0]["result"] == "skipped" and json_lines(skipped.stdout)[0]["commit"] == readme
    assert json_lines(applied.stdout)[0]["result"] == "applied"
    assert json_lines(applied.stdout)[0]["changes"]["create"] == 1


def test_secrets_never_leave_the_process_even_when_the_program_prints_them(tiny, tmp_path, engine_env):
    secret = "tiny-secret-value-4f9c2"
    env = {**engine_env, "TINY_TOKEN": secret}
    config = write_config(
        tmp_path / "reconciler.yaml",
        [tiny_stack(tiny, tmp_path / "backend", config={"tiny:token": {"secret_env": "TINY_TOKEN"}})],
        log_format="json",
    )
    assert run_cli("once", "--config", str(config), env=env).returncode == 0
    tiny.commit("a program that prints its secret config", {"leak.txt": "config:token\n"})
    config_leak = run_cli("once", "--config", str(config), "--json", env=env)
    tiny.commit("a program that prints the passphrase", {"leak.txt": "env:PULUMI_CONFIG_PASSPHRASE\n"})
    env_leak = run_cli("once", "--config", str(config), "--json", env=env)
    status = run_cli("status", "--config", str(config), "--json", env=env)

    assert config_leak.returncode == env_leak.returncode == 1
    assert "a careless program prints token: [secret]" in json_lines(config_leak.stdout)[0]["error"], "the engine masks config secrets"
    assert "a careless program prints PULUMI_CONFIG_PASSPHRASE: [redacted]" in json_lines(env_leak.stdout)[0]["error"]
    for text in (config_leak.stdout, config_leak.stderr, env_leak.stdout, env_leak.stderr, status.stdout):
        assert secret not in text and env["TINY_PASSPHRASE"] not in text
    assert [json_lines(result.stderr) for result in (config_leak, env_leak)], "the log is JSON lines"
    database = (tmp_path / "reconciler-state" / "status.sqlite").read_bytes()
    assert secret.encode() not in database and env["TINY_PASSPHRASE"].encode() not in database
    checkout_stack_file = tmp_path / "reconciler-state" / "workspaces" / "tiny" / "checkout" / "Pulumi.dev.yaml"
    assert secret not in checkout_stack_file.read_text(), "the override is stored encrypted"


def test_the_salt_of_the_existing_stack_is_used_when_the_committed_stack_file_has_none(tiny, tmp_path, engine_env):
    backend = tmp_path / "backend"
    backend.mkdir()
    assert pulumi_in_clone(tiny, engine_env, backend, "stack", "init", "dev").returncode == 0
    assert pulumi_in_clone(tiny, engine_env, backend, "config", "set", "--secret", "tiny:token", "committed-secret").returncode == 0
    stack_file = tiny.clone / "Pulumi.dev.yaml"
    salt_line = next(line for line in stack_file.read_text().splitlines() if line.startswith("encryptionsalt:"))
    up = pulumi_in_clone(tiny, engine_env, backend, "up", "--yes", "--stack", "dev")
    assert up.returncode == 0, up.stdout + up.stderr
    # The team commits the secure value but keeps the salt out of Git.
    stack_file.write_text("\n".join(line for line in stack_file.read_text().splitlines() if line != salt_line) + "\n")
    tiny.commit("secret token, salt left out")
    config = write_config(tmp_path / "reconciler.yaml", [tiny_stack(tiny, backend)])

    result = run_cli("once", "--config", str(config), "--json", env=engine_env)
    outputs = pulumi_in_clone(tiny, engine_env, backend, "stack", "output", "--json", "--show-secrets", "--stack", "dev")
    state = json.loads(pulumi_in_clone(tiny, engine_env, backend, "stack", "export", "--stack", "dev").stdout)

    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(outputs.stdout)["token"] == "committed-secret"
    assert state["deployment"]["secrets_providers"]["state"]["salt"] == salt_line.split(": ", 1)[1], "the state is not re-keyed"


def test_an_update_held_by_someone_else_is_a_concurrent_update(tiny, tmp_path, engine_env):
    backend = tmp_path / "backend"
    config = write_config(tmp_path / "reconciler.yaml", [tiny_stack(tiny, backend)])
    assert run_cli("once", "--config", str(config), env=engine_env).returncode == 0
    person_clone = tmp_path / "person"
    subprocess.run(["git", "clone", "--quiet", str(tiny.bare), str(person_clone)], check=True)
    (person_clone / ".venv").symlink_to(PROJECT_DIR / ".venv")
    (person_clone / "slow.txt").write_text("25")
    person = subprocess.Popen(
        ["pulumi", "--non-interactive", "up", "--yes", "--skip-preview", "--stack", "dev"], cwd=person_clone,
        env={**engine_env, "PULUMI_BACKEND_URL": f"file://{backend}", "PULUMI_CONFIG_PASSPHRASE": engine_env["TINY_PASSPHRASE"]},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not list(backend.glob(".pulumi/locks/**/*.json")) and time.monotonic() < deadline:
            time.sleep(0.2)
        tiny.commit("a fourth thing", {"things.txt": "a\nb\nc\nd\n"})

        result = run_cli("once", "--config", str(config), "--json", env=engine_env)
    finally:
        person.wait(timeout=120)

    assert result.returncode == 1
    state = json_lines(run_cli("status", "--config", str(config), "--json", env=engine_env).stdout)[0]
    assert json_lines(result.stdout)[0]["result"] == "failed"
    assert state["reason"] == "LockHeld" and state["retry_at"] is not None and state["failures"] == 0
    assert {c["type"]: (c["status"], c["reason"]) for c in state["conditions"]}["Reconciling"] == ("True", "LockHeld")


def test_a_deleted_branch_is_reported_not_crashed_on(tiny, tmp_path, engine_env):
    config = write_config(tmp_path / "reconciler.yaml", [tiny_stack(tiny, tmp_path / "backend")])
    assert run_cli("once", "--config", str(config), env=engine_env).returncode == 0
    tiny.delete_branch()

    result = run_cli("once", "--config", str(config), "--json", env=engine_env)

    assert result.returncode == 1
    [line] = json_lines(result.stdout)
    assert line["result"] == "failed" and "branch 'main' does not exist on the remote" in line["error"]
    assert line["reason"] == "BranchMissing"
    assert "Traceback" not in result.stderr


def test_the_service_applies_pushes_on_webhooks_and_serves_status_and_metrics(tiny, tmp_path, engine_env, start_service):
    import hashlib
    import hmac

    port = free_port()
    env = {**engine_env, "TINY_WEBHOOK_SECRET": "hook-secret-123"}
    config = write_config(
        tmp_path / "reconciler.yaml", [tiny_stack(tiny, tmp_path / "backend", resync_interval="1h")],
        listen=f"127.0.0.1:{port}", webhook={"secret": {"env": "TINY_WEBHOOK_SECRET"}},
    )
    service = start_service(config, env, port)
    service.wait_until(lambda: service.stack("tiny")["last_applied_commit"] == tiny.head(), 120, "the first apply")
    assert service.get("/readyz")[0] == 200

    pushed = tiny.commit("a fourth thing", {"things.txt": "a\nb\nc\nd\n"})
    body = json.dumps({"ref": "refs/heads/main", "repository": {"clone_url": str(tiny.bare)}}).encode()
    forged = service.post("/hooks/github", body, {"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + "0" * 64})
    time.sleep(3)
    assert forged[0] == 401 and service.stack("tiny")["last_applied_commit"] != pushed, "a forged hook runs nothing"
    signature = "sha256=" + hmac.new(b"hook-secret-123", body, hashlib.sha256).hexdigest()
    accepted = service.post("/hooks/github", body, {"X-GitHub-Event": "push", "X-Hub-Signature-256": signature})

    assert accepted == (202, b'{"triggered": ["tiny"]}\n')
    service.wait_until(lambda: service.stack("tiny")["last_applied_commit"] == pushed, 60, "the pushed commit")
    entry = service.stack("tiny")
    assert entry["last_run"]["trigger"] == "webhook" and entry["last_run"]["changes"]["create"] == 1
    metrics = service.get("/metrics")[1].decode()
    assert 'reconciler_runs_total{result="applied",stack="tiny"} 2.0' in metrics
    assert f'reconciler_commit_info{{commit="{pushed}",stack="tiny"}} 1.0' in metrics
    assert "reconciler_run_duration_seconds_bucket" in metrics and "reconciler_last_success_timestamp_seconds" in metrics
    assert service.stop() == 0


def test_a_service_killed_mid_update_releases_the_lock_at_its_next_start_and_converges(tiny, tmp_path, engine_env, start_service):
    backend = tmp_path / "backend"
    port = free_port()
    config = write_config(tmp_path / "reconciler.yaml", [tiny_stack(tiny, backend)], listen=f"127.0.0.1:{port}")
    kill_mid_update(start_service(config, engine_env, port), tiny, backend)
    assert stack_locks(backend), "the killed update left its lock behind"
    fixed = tiny.commit("not slow any more", {"slow.txt": None})

    restarted = start_service(config, engine_env, port)
    restarted.wait_until(lambda: restarted.stack("tiny")["last_applied_commit"] == fixed, 120, "convergence")

    assert not stack_locks(backend)
    assert "the last run did not finish; recovering" in restarted.log()
    assert "released the lock of" in restarted.log() and "whose process is gone" in restarted.log()
    assert restarted.stop() == 0
    store = StatusStore(tmp_path / "reconciler-state" / "status.sqlite", read_only=True)
    history = [(run["result"], run["reason"]) for run in reversed(store.runs("tiny"))]
    store.close()
    assert ("failed", "Interrupted") in history and history[-1] == ("applied", None)


def test_once_with_a_stack_name_runs_that_stack_only(tiny, tmp_path, engine_env):
    backend = tmp_path / "backend"
    config = write_config(tmp_path / "reconciler.yaml", [
        tiny_stack(tiny, backend, name="tiny-a", stack="a"),
        tiny_stack(tiny, backend, name="tiny-b", stack="b"),
    ])

    only_b = run_cli("once", "--config", str(config), "--stack", "tiny-b", "--json", env=engine_env)
    both = run_cli("once", "--config", str(config), "--json", env=engine_env)

    assert only_b.returncode == 0 and [line["stack"] for line in json_lines(only_b.stdout)] == ["tiny-b"]
    assert {line["stack"]: line["result"] for line in json_lines(both.stdout)} == {"tiny-a": "applied", "tiny-b": "skipped"}


def test_an_update_asks_the_cli_only_what_it_needs(tiny, tmp_path, engine_env):
    """No stack outputs read back (the SDK's `up` reads them twice, decrypted the second time; the reconciler uses
    none), and a secret override is encrypted once: a later `once` process with the same value reuses the ciphertext."""
    real = subprocess.run(["bash", "-c", "command -v pulumi"], env=engine_env, capture_output=True, text=True, check=True).stdout.strip()
    calls = tmp_path / "calls.txt"
    wrapper = tmp_path / "cli" / "bin" / "pulumi"
    wrapper.parent.mkdir(parents=True)
    wrapper.write_text(f'#!/bin/bash\necho "$*" >> {calls}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    stack = tiny_stack(tiny, tmp_path / "backend", config={"tiny:token": {"secret_env": "TINY_TOKEN"}})
    config = write_config(tmp_path / "reconciler.yaml", [stack], pulumi=str(wrapper))
    env = {**engine_env, "TINY_TOKEN": "a-token-value"}

    first = run_cli("once", "--config", str(config), "--json", env=env)
    first_calls = calls.read_text().splitlines()
    tiny.commit("one more thing", {"things.txt": "a\nb\nc\nd\n"})
    second = run_cli("once", "--config", str(config), "--json", env=env)
    second_calls = calls.read_text().splitlines()[len(first_calls):]

    assert first.returncode == 0 and second.returncode == 0, (first.stderr, second.stderr)
    assert [json_lines(run.stdout)[0]["result"] for run in (first, second)] == ["applied", "applied"]
    assert any(line.split()[1:2] == ["up"] for line in second_calls), second_calls
    assert not [line for line in first_calls + second_calls if "stack output" in line]
    assert [line for line in first_calls if "config set --secret" in line]
    assert not [line for line in second_calls if "config set --secret" in line]
    assert "a-token-value" not in calls.read_text()
