"""Notifications and Kubernetes Events of real runs: `python -m reconciler once` with the real engine and the local cluster.

A provider-free project fails the same way three times (its error prints the passphrase), then a commit
fixes it: the webhook on loopback gets one failure and one recovery, signed and redacted; a sink that
answers 500 changes nothing; the local cluster's API server holds one Event per run.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import uuid
from pathlib import Path

import pytest
from kubernetes import client, config

from testsupport.reconciler_testing import PROJECT_DIR, TINY_PROJECT, json_lines, run_cli, tiny_stack, write_config
from testsupport.recording_server import recording_server

pytestmark = pytest.mark.e2e
HMAC_KEY = "engine-notify-key-5d1e"


@pytest.fixture
def cluster_namespace(local_env):
    settings = client.Configuration()
    config.load_kube_config(local_env["KUBECONFIG"], client_configuration=settings)
    with client.ApiClient(settings) as api:
        core = client.CoreV1Api(api)
        name = f"notify-{uuid.uuid4().hex[:8]}"
        core.create_namespace({"metadata": {"name": name}})
        yield core, name
        core.delete_namespace(name)


def signed_by_the_key(body: bytes, signature: str) -> bool:
    return hmac.compare_digest(signature, "sha256=" + hmac.new(HMAC_KEY.encode(), body, hashlib.sha256).hexdigest())


def test_one_failure_message_then_one_recovery_and_an_event_per_run_on_the_cluster(
    remote, tmp_path: Path, engine_env, local_env, cluster_namespace,
):
    core, namespace = cluster_namespace
    stack = f"tiny-{namespace}"
    remote.commit("tiny project", TINY_PROJECT)
    (remote.clone / ".venv").symlink_to(PROJECT_DIR / ".venv")
    key_file = tmp_path / "hook.key"
    key_file.write_text(HMAC_KEY)
    env = {**engine_env, "KUBECONFIG": "/nonexistent"}  # the Events' cluster comes from the stack's config, nothing else
    with recording_server() as hook, recording_server() as broken:
        broken.statuses = [500] * 1000
        path = write_config(
            tmp_path / "reconciler.yaml",
            [tiny_stack(remote, tmp_path / "backend", name=stack, events={"namespace": namespace},
                        config={"pulumi-gitops:kubeconfig": {"path": local_env["KUBECONFIG"]}})],
            notifications={
                "link": "https://ci.example.com/{stack}/{commit}",
                "sinks": [
                    {"name": "hook", "type": "webhook", "url": hook.url, "secret": {"file": str(key_file)}, "results": ["failed"]},
                    {"name": "broken", "type": "webhook", "url": broken.url, "secret": {"file": str(key_file)},
                     "retries": 1, "retry_backoff": "0.05s"},
                ],
            },
        )

        def once() -> tuple[int, dict]:
            result = run_cli("once", "--config", str(path), "--json", env=env)
            return result.returncode, json_lines(result.stdout)[0]

        first = once()
        leaking = remote.commit("a program that prints the passphrase", {"leak.txt": "env:PULUMI_CONFIG_PASSPHRASE\n"})
        failures = [once() for _ in range(3)]
        fixed_commit = remote.commit("the program no longer prints it", {"leak.txt": None})
        fixed = once()
        received = list(hook.received)
        broken_attempts = len(broken.received)

    assert (first[0], first[1]["result"]) == (0, "applied"), "a sink answering 500 changes nothing"
    assert [(code, line["result"]) for code, line in failures] == [(1, "failed")] * 3
    assert (fixed[0], fixed[1]["result"]) == (0, "applied")
    assert broken_attempts == 3 * 2, "its three messages (applied, the failure once, the recovery) tried twice each, then given up"

    bodies = [request.json() for request in received]
    assert [(body["result"], body["commit"], body["recovered_from"]) for body in bodies] == [
        ("failed", leaking, None), ("applied", fixed_commit, "failed"),
    ], "three failures the same way: one message; then one for the recovery"
    assert all(signed_by_the_key(request.body, request.headers["x-signature"]) for request in received)
    assert "a careless program prints PULUMI_CONFIG_PASSPHRASE: [redacted]" in bodies[0]["error"]
    assert all(engine_env["TINY_PASSPHRASE"].encode() not in request.body for request in received)
    assert bodies[0]["link"] == f"https://ci.example.com/{stack}/{leaking}"

    events = sorted(core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={stack}").items,
                    key=lambda event: event.metadata.name)
    assert [(event.reason, event.type) for event in events] == [
        ("Applied", "Normal"), ("Failed", "Warning"), ("Failed", "Warning"), ("Failed", "Warning"), ("Applied", "Normal"),
    ]
    assert {(event.reporting_component, event.involved_object.kind) for event in events} == {("pulumi-gitops", "Stack")}
    assert [event.metadata.annotations["pulumi-gitops.dev/commit"] for event in events[-2:]] == [leaking, fixed_commit]
    assert events[-1].message.startswith(f"{stack}: applied at {fixed_commit[:12]}; ")
    assert "[redacted]" in events[1].message and engine_env["TINY_PASSPHRASE"] not in events[1].message


def test_a_sink_that_never_answers_leaves_the_pass_as_it_was(
    remote, tmp_path: Path, engine_env,
):
    remote.commit("tiny project", TINY_PROJECT)
    (remote.clone / ".venv").symlink_to(PROJECT_DIR / ".venv")
    key_file = tmp_path / "hook.key"
    key_file.write_text(HMAC_KEY)
    answer = threading.Event()
    with recording_server() as hanging:
        hanging.before_answer = answer.wait
        path = write_config(
            tmp_path / "reconciler.yaml", [tiny_stack(remote, tmp_path / "backend")],
            notifications={"sinks": [
                {"name": "hanging", "type": "webhook", "url": hanging.url, "secret": {"file": str(key_file)},
                 "timeout": "2s", "retries": 1, "retry_backoff": "0.1s"},
            ]},
        )
        result = run_cli("once", "--config", str(path), "--json", env=engine_env)
        sent = len(hanging.received)
        answer.set()

    assert result.returncode == 0 and json_lines(result.stdout)[0]["result"] == "applied"
    assert sent == 2, "sent, and once more after the first wait for an answer ran out"
    assert "sink hanging: gave up on" in result.stderr
