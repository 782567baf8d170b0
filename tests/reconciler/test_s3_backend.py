"""The reconciler's `up` against a real S3 API server (moto's), as replicas on AWS share an S3 backend.

The stack's state and Pulumi's lock live in the bucket: a second replica (its own state directory) that
reaches the stack while the first one's update holds the lock is refused with LockHeld, then applies
nothing new once the update is done.
"""

from __future__ import annotations

import subprocess

import pytest

from testsupport.reconciler_testing import PROJECT_DIR, PYTHON, TINY_PROJECT, json_lines, run_cli, tiny_stack, wait_for, write_config
from testsupport.s3_server import CREDENTIALS, backend_url, bucket, s3_server

pytestmark = pytest.mark.e2e


@pytest.fixture
def s3(tmp_path):
    with s3_server(tmp_path / "s3-server.log") as endpoint:
        yield endpoint


def replica_config(tmp_path, remote, url, replica: str):
    entry = tiny_stack(remote, tmp_path / "unused", backend_url=url)
    return write_config(tmp_path / replica / "reconciler.yaml", [entry], state_dir=str(tmp_path / replica / "state"))


def test_up_keeps_the_state_and_the_lock_in_the_bucket(remote, tmp_path, engine_env, s3):
    remote.commit("tiny project", TINY_PROJECT)
    state = bucket(s3, "pulumi-state")
    url = backend_url(s3, "pulumi-state")
    env = {**engine_env, **CREDENTIALS}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = replica_config(tmp_path, remote, url, "a"), replica_config(tmp_path, remote, url, "b")

    applied = run_cli("once", "--config", str(first), "--json", env=env)
    keys = {item.key for item in state.objects.all()}
    slow = remote.commit("a slow update", {"slow.txt": "20", "things.txt": "a\nb\nc\nd\n"})
    updating = subprocess.Popen([PYTHON, "-m", "reconciler", "once", "--config", str(first), "--json"], cwd=PROJECT_DIR,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: any(item.key.startswith(".pulumi/locks/") for item in state.objects.all()), 120, "the lock in the bucket")
    refused = run_cli("once", "--config", str(second), "--json", env=env)
    out, err = updating.communicate(timeout=300)
    locks_after = [item.key for item in state.objects.all() if item.key.startswith(".pulumi/locks/")]
    after = run_cli("once", "--config", str(second), "--json", env=env)

    assert applied.returncode == 0, applied.stderr
    assert json_lines(applied.stdout)[0]["result"] == "applied"
    assert ".pulumi/stacks/tiny/dev.json" in keys
    assert refused.returncode == 1 and json_lines(refused.stdout)[0]["reason"] == "LockHeld", refused.stdout
    assert updating.returncode == 0 and json_lines(out)[0]["result"] == "applied", err
    assert json_lines(out)[0]["commit"] == slow and locks_after == []
    [line] = json_lines(after.stdout)
    assert (line["result"], line["changes"]["create"], line["changes"]["same"]) == ("applied", 0, 5), after.stdout
