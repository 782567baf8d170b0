"""The stack's `awaits` choice as the annotation the Kubernetes provider reads (pulumi.com/skipAwait)."""

import pytest

from manifest_loader.readiness import mark_awaits, skips_await

SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}}
INGRESS = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web"}}
DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}
JOB = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"}}
PVC = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"}}
CUSTOM_SERVICE = {"apiVersion": "example.com/v1", "kind": "Service", "metadata": {"name": "web"}}


def annotated(body, awaits):
    copy = {**body, "metadata": {**body["metadata"]}}
    mark_awaits(copy, awaits)
    return (copy["metadata"].get("annotations") or {}).get("pulumi.com/skipAwait")


@pytest.mark.parametrize("body", [SERVICE, INGRESS])
def test_kstatus_counts_services_and_ingresses_ready_once_they_exist(body):
    assert annotated(body, "kstatus") == "true"


@pytest.mark.parametrize("body", [DEPLOYMENT, JOB, PVC])
def test_kstatus_still_waits_for_rollouts_jobs_and_claims(body):
    assert annotated(body, "kstatus") is None


def test_a_kind_named_service_in_another_group_is_not_a_core_service():
    assert not skips_await(CUSTOM_SERVICE, "kstatus")


@pytest.mark.parametrize("body", [SERVICE, DEPLOYMENT, JOB])
def test_provider_keeps_every_await_and_none_skips_every_one(body):
    assert annotated(body, "provider") is None
    assert annotated(body, "none") == "true"


def test_an_objects_own_choice_wins():
    body = {**SERVICE, "metadata": {"name": "web", "annotations": {"pulumi.com/skipAwait": "false", "team": "a"}}}
    mark_awaits(body, "kstatus")
    assert body["metadata"]["annotations"] == {"pulumi.com/skipAwait": "false", "team": "a"}


def test_an_unknown_choice_is_refused():
    with pytest.raises(ValueError, match="'rollout' is not one of kstatus, provider, none"):
        skips_await(SERVICE, "rollout")
