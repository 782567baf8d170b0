"""Kubernetes Events of runs: cut to the API's limit after redaction, and an unreachable cluster logged, never raised."""

from __future__ import annotations

import logging
import shutil
import uuid
from pathlib import Path

import pytest
from kubernetes import client, config

from reconciler.notify.cluster_events import ClusterEvents
from reconciler.notify.kube_event import event_body
from reconciler.notify.notification import Notification
from reconciler.settings.notification_settings import EventsTarget
from reconciler.status.model import ChangeCounts, Result, RunKind, RunOutcome, StackState
from reconciler.telemetry.redaction import Redactor
from testsupport.kubeconfigs import LOCAL_KUBECONFIG
from testsupport.reconciler_testing import free_port

SECRET = "cluster-secret-value-3e8"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


class Spec:
    """The two things a listener reads of a StackSpec."""

    def __init__(self, name: str, events: EventsTarget) -> None:
        self.name, self.events = name, events


def failed(stack: str, error: str) -> RunOutcome:
    return RunOutcome(stack, COMMIT, "poll", RunKind.APPLY, Result.FAILED, 1_790_000_000.0, 1_790_000_003.0,
                      changes=ChangeCounts(update=1), reason="ProgramError", error_message=error)


def test_a_long_error_is_cut_to_the_api_limit_after_it_is_redacted():
    redactor = Redactor([SECRET])
    # Wherever the cut falls (somewhere in these paddings it cuts the secret in two), no part of it shows.
    for padding in range(850, 1050):
        body = event_body(Notification.of(failed("web", "." * padding + f" {SECRET} " + "tail " * 40), None, redactor), "default")
        assert len(body["message"]) <= 1024 and body["message"].endswith("[cut: the whole error is in the reconciler's status]")
        assert SECRET[:6] not in body["message"], padding

    assert body["message"].startswith("web: failed at 0123456789ab (ProgramError); update=1 in 3.0s\n....")
    assert (body["reason"], body["type"], body["action"], body["reportingComponent"]) == ("Failed", "Warning", "Apply", "pulumi-gitops")
    assert body["metadata"]["name"].startswith("web.") and body["metadata"]["annotations"] == {"pulumi-gitops.dev/commit": COMMIT}


def test_an_unreachable_cluster_is_logged_once_and_never_raises(tmp_path: Path, caplog):
    closed = tmp_path / "closed.kubeconfig"
    closed.write_text(LOCAL_KUBECONFIG.replace("127.0.0.1:16443", f"127.0.0.1:{free_port()}"))
    events = ClusterEvents(Redactor())
    targets = [("no-file", EventsTarget(tmp_path / "missing.kubeconfig", None, "default")),
               ("closed-port", EventsTarget(closed, None, "default"))]
    with caplog.at_level(logging.DEBUG, logger="reconciler"):
        for _ in range(2):
            for name, target in targets:
                events.run_recorded(Spec(name, target), failed(name, "boom"), StackState(name))  # type: ignore[arg-type]
        events.flush(60)

    for name, _ in targets:
        said = [r for r in caplog.records if r.name == "reconciler" and r.getMessage().startswith(f"{name}: no Kubernetes Event")]
        assert [r.levelno for r in said] == [logging.WARNING, logging.DEBUG], "warned once, then quietly"


@pytest.mark.e2e
def test_events_are_written_again_once_the_kubeconfig_appears(tmp_path: Path, local_env, caplog):
    settings = client.Configuration()
    config.load_kube_config(local_env["KUBECONFIG"], client_configuration=settings)
    stack = f"appearing-{uuid.uuid4().hex[:8]}"
    kubeconfig = tmp_path / "later.kubeconfig"
    events = ClusterEvents(Redactor())
    spec = Spec(stack, EventsTarget(kubeconfig, None, "default"))
    with caplog.at_level(logging.INFO, logger="reconciler"):
        events.run_recorded(spec, failed(stack, "before"), StackState(stack))  # type: ignore[arg-type]
        events.flush(30)
        shutil.copy(local_env["KUBECONFIG"], kubeconfig)  # the local environment came up
        events.run_recorded(spec, failed(stack, "after"), StackState(stack))  # type: ignore[arg-type]
        events.flush(30)

    with client.ApiClient(settings) as api:
        core = client.CoreV1Api(api)
        written = core.list_namespaced_event("default", field_selector=f"involvedObject.name={stack}").items
        for event in written:
            core.delete_namespaced_event(event.metadata.name, "default")
    assert [event.message.splitlines()[-1] for event in written] == ["after"]
    assert any(r.getMessage() == f"{stack}: its cluster is reachable again; Kubernetes Events are written" for r in caplog.records)
