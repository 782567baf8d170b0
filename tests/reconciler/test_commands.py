"""`python -m reconciler once|status` as a user runs them: exit codes, the printed lines, the state directory lock.

Git is real; the stacks' remote is unreachable or fine, and the engine is never reached (a stub `pulumi` only
passes the CLI check), so each command runs in a fraction of a second.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reconciler import commands, exit_codes
from reconciler.__main__ import main
from reconciler.desired_state import config_digest, digest_key
from reconciler.errors import SOURCE_UNREACHABLE
from reconciler.process_setup import pulumi_root, redactor_for
from reconciler.settings import load_config
from reconciler.stack_set import LOCK_FILE, STORE_FILE, StackSet, StateDirBusy
from reconciler.status.store import StatusStore
from testsupport.reconciler_testing import PROJECT_DIR, TINY_PROJECT, tiny_stack, write_config
from testsupport.stub_pulumi import StubPulumi

ONCE_KEYS = {"stack", "commit", "result", "reason", "changes", "duration_s", "error"}


@pytest.fixture
def stub(tmp_path: Path) -> StubPulumi:
    return StubPulumi(tmp_path / "cli")


def config_file(tmp_path: Path, stub: StubPulumi, stacks: list[dict]) -> Path:
    return write_config(tmp_path / "reconciler.yaml", stacks, pulumi=str(stub.command))


@pytest.fixture
def unreachable(tmp_path, stub, remote) -> Path:
    """Two stacks whose remote cannot be read (a repository folder that is not a repository)."""
    not_a_repo = tmp_path / "not-a-repo"
    not_a_repo.mkdir()
    return config_file(tmp_path, stub, [
        tiny_stack(remote, tmp_path / "backend", name=name, stack=stack, repo={"url": str(not_a_repo)}, secrets_passphrase=None)
        for name, stack in (("alpha", "dev"), ("beta", "prod"))
    ])


def test_a_bad_config_exits_2_naming_the_file(tmp_path, capsys):
    bad = tmp_path / "reconciler.yaml"
    bad.write_text("stacks: [{name: x}]\nbogus: 1\n")
    assert main(["once", "--config", str(bad)]) == exit_codes.EXIT_BAD_CONFIG
    assert str(bad) in capsys.readouterr().err


def test_an_unknown_stack_exits_2_listing_the_known_ones(unreachable, capsys):
    assert main(["once", "--config", str(unreachable), "--stack", "gamma"]) == 2
    err = capsys.readouterr().err
    assert "--stack gamma" in err and "alpha, beta" in err


def test_a_missing_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as raised:
        main([])
    assert raised.value.code == 2


def test_a_pulumi_cli_that_cannot_run_is_a_config_problem(tmp_path, remote, capsys):
    old = StubPulumi(tmp_path / "old-cli")
    old.command.write_text("#!/bin/sh\necho v1.0.0\n")  # far older than the SDK accepts
    path = write_config(tmp_path / "reconciler.yaml", [tiny_stack(remote, tmp_path / "backend", secrets_passphrase=None)],
                        pulumi=str(old.command))
    assert main(["once", "--config", str(path)]) == 2
    assert "cannot run the Pulumi CLI" in capsys.readouterr().err


def status_output(path: Path, as_json: bool) -> str:
    config = load_config(path)
    out = io.StringIO()
    assert commands.status(config, redactor_for(config), as_json, out=out) == exit_codes.EXIT_IN_SYNC
    return out.getvalue()


def test_status_before_any_run(unreachable):
    assert main(["status", "--config", str(unreachable)]) == 0
    assert "no runs yet" in status_output(unreachable, as_json=False)
    lines = [json.loads(line) for line in status_output(unreachable, as_json=True).splitlines()]
    assert lines == [{"stack": "alpha", "result": None}, {"stack": "beta", "result": None}]


def test_once_exits_1_with_one_json_line_per_stack_when_the_source_fails(unreachable):
    config = load_config(unreachable)
    out = io.StringIO()
    assert commands.once(config, redactor_for(config), None, as_json=True, out=out) == exit_codes.EXIT_OUT_OF_SYNC
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert sorted(line["stack"] for line in lines) == ["alpha", "beta"]
    for line in lines:
        assert set(line) == ONCE_KEYS
        assert (line["result"], line["reason"], line["commit"]) == ("failed", SOURCE_UNREACHABLE, None)
        assert "not-a-repo" in line["error"]


def test_once_for_one_stack_prints_a_line_for_people(unreachable):
    config = load_config(unreachable)
    out = io.StringIO()
    assert commands.once(config, redactor_for(config), "beta", as_json=False, out=out) == 1
    first, *detail = out.getvalue().splitlines()
    assert first.startswith("beta: failed (SourceUnreachable) - in ")
    assert detail and detail[0].startswith("  ") and "not-a-repo" in detail[0]


def test_status_shows_what_the_last_pass_recorded(unreachable):
    config = load_config(unreachable)
    commands.once(config, redactor_for(config), "alpha", as_json=True, out=io.StringIO())
    assert main(["status", "--config", str(unreachable), "--json"]) == 0
    entries = {entry["stack"]: entry for entry in map(json.loads, status_output(unreachable, as_json=True).splitlines())}
    alpha = entries["alpha"]
    assert alpha["ready"] is False
    assert (alpha["result"], alpha["reason"]) == ("failed", SOURCE_UNREACHABLE)
    assert "not-a-repo" in alpha["error"]
    assert alpha["failures"] == 1 and alpha["retry_at"] is not None
    assert alpha["last_run"]["result"] == "failed" and alpha["last_run"]["trigger"] == "once"
    assert entries["beta"]["result"] is None and entries["beta"]["last_run"] is None
    text = status_output(unreachable, as_json=False)
    assert "alpha" in text and "NotReady(SourceUnreachable)" in text and "never run" in text


def test_secrets_in_a_failed_pass_never_reach_the_output(tmp_path, stub, remote, monkeypatch):
    # A careless repository path holding a secret: the redactor masks it wherever it shows.
    secret = "tok-4f9a8b7c6d"
    folder = tmp_path / f"repo-{secret}"
    folder.mkdir()
    monkeypatch.setenv("TINY_PASSPHRASE", secret)
    for as_json in (True, False):
        # `once` holds its state directory until the process exits: one each.
        (tmp_path / str(as_json)).mkdir()
        path = write_config(tmp_path / str(as_json) / "reconciler.yaml",
                            [tiny_stack(remote, tmp_path / "backend", repo={"url": str(folder)})], pulumi=str(stub.command))
        config = load_config(path)
        out = io.StringIO()
        commands.once(config, redactor_for(config), None, as_json=as_json, out=out)
        assert "repo-" in out.getvalue() and secret not in out.getvalue()


HOLD_THE_STATE_DIRECTORY = """
import sys, time
from reconciler.settings import load_config
from reconciler.process_setup import redactor_for
from reconciler.stack_set import StackSet
config = load_config(sys.argv[1])
stacks = StackSet(config, redactor_for(config))  # holds the state directory while it exists
print("held", flush=True)
time.sleep(60)
"""


def test_a_state_directory_in_use_by_another_reconciler_is_refused(unreachable):
    config = load_config(unreachable)
    other = subprocess.Popen([sys.executable, "-c", HOLD_THE_STATE_DIRECTORY, str(unreachable)],
                             cwd=PROJECT_DIR, stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "held"
        with pytest.raises(StateDirBusy, match=f"another reconciler \\(pid {other.pid}\\)"):
            StackSet(config, redactor_for(config))
        assert main(["once", "--config", str(unreachable)]) == exit_codes.EXIT_OUT_OF_SYNC
    finally:
        other.kill()
        other.wait()
    # Free again once the other process is gone.
    stacks = StackSet(config, redactor_for(config))
    assert (config.state_dir / LOCK_FILE).read_text() == str(os.getpid())
    stacks.store.close()
    stacks._lock_file.close()


def settle(config, name: str, head: str) -> None:
    """The store says `name` was applied at `head` with its current config: nothing is due."""
    config.state_dir.mkdir(parents=True, exist_ok=True)
    spec = config.stack(name)
    digest = config_digest(spec, digest_key(config.state_dir))
    store = StatusStore(config.state_dir / STORE_FILE)
    store.update_state(name, settled_commit=head, settled_digest=digest, settled_result="applied",
                       last_result="applied", last_applied_commit=head, last_applied_digest=digest)
    store.close()


def test_once_exits_0_only_when_every_stack_is_in_sync(tmp_path, stub, remote):
    head = remote.commit("the project", TINY_PROJECT)
    not_a_repo = tmp_path / "not-a-repo"
    not_a_repo.mkdir()
    path = config_file(tmp_path, stub, [
        tiny_stack(remote, tmp_path / "backend", name="synced", secrets_passphrase=None),
        tiny_stack(remote, tmp_path / "backend", name="broken", stack="prod", repo={"url": str(not_a_repo)},
                   secrets_passphrase=None),
    ])
    config = load_config(path)
    settle(config, "synced", head)
    out = io.StringIO()
    assert commands.once(config, redactor_for(config), None, as_json=True, out=out) == exit_codes.EXIT_OUT_OF_SYNC
    results = {line["stack"]: line for line in map(json.loads, out.getvalue().splitlines())}
    assert (results["synced"]["result"], results["synced"]["commit"]) == ("skipped", head)
    assert results["broken"]["result"] == "failed"


def test_once_of_a_stack_in_sync_exits_0(tmp_path, stub, remote):
    head = remote.commit("the project", TINY_PROJECT)
    config = load_config(config_file(tmp_path, stub, [tiny_stack(remote, tmp_path / "backend", secrets_passphrase=None)]))
    settle(config, "tiny", head)
    out = io.StringIO()
    assert commands.once(config, redactor_for(config), "tiny", as_json=False, out=out) == exit_codes.EXIT_IN_SYNC
    assert out.getvalue().startswith(f"tiny: skipped {head[:12]} in ")


def test_the_stack_set_wires_every_stack_and_restores_the_applied_commit_metric(unreachable):
    config = load_config(unreachable)
    stacks = StackSet(config, redactor_for(config), only="beta")
    try:
        assert list(stacks.reconcilers) == ["beta"]
        stacks.store.update_state("beta", last_applied_commit="c" * 40)
    finally:
        stacks.store.close()
        stacks._lock_file.close()
    again = StackSet(config, redactor_for(config))
    try:
        assert sorted(again.reconcilers) == ["alpha", "beta"]
        info = [line for line in again.metrics.render().decode().splitlines() if line.startswith("reconciler_commit_info{")]
        # After a restart the applied commit is known before any pass (beta's only: alpha never applied).
        assert info == ['reconciler_commit_info{commit="' + "c" * 40 + '",stack="beta"} 1.0']
    finally:
        again.store.close()
        again._lock_file.close()


def test_git_credentials_are_redacted_as_basic_auth(tmp_path, stub, remote, monkeypatch):
    monkeypatch.setenv("GIT_TOKEN", "ghp_supersecrettoken")
    repo = {"url": "https://git.example.com/o/r.git", "credentials": {"password": {"env": "GIT_TOKEN"}}}
    path = config_file(tmp_path, stub, [tiny_stack(remote, tmp_path / "backend", repo=repo, secrets_passphrase=None)])
    config = load_config(path)
    redactor = redactor_for(config)
    encoded = base64.b64encode(b"x-access-token:ghp_supersecrettoken").decode()
    assert "ghp_supersecrettoken" not in redactor.redact("token ghp_supersecrettoken")
    assert encoded not in redactor.redact(f"Authorization: Basic {encoded}")


def test_pulumi_root_is_the_folder_above_bin(unreachable, stub):
    assert pulumi_root(load_config(unreachable)) == str(stub.root)
    assert yaml.safe_load(unreachable.read_text())["pulumi"] == str(stub.command)
