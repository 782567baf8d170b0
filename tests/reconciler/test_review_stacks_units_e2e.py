"""A review stack of a stack whose workloads are split into units, on the real engine and the local cluster.

The base stack `rsu-e2e` declares units (one per folder: platform holds the Namespace, web the app, settings a
ConfigMap): its own stack deploys no object, each unit stack deploys its folder. A labelled pull request's review
stack is one stack of the program's whole shape: every unit's namespaced objects in the review namespace, from
the pull request's head. Closing the pull request destroys it; the units' objects are never touched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import pytest
import yaml

from testsupport.fake_github import serve_fake_github
from testsupport.pull_request_events import LabelledPullRequest, signed_event
from testsupport.reconciler_cluster import ClusterRepo, manifests, stack_file
from testsupport.review_stack_checks import kubectl, ready_at, review_stacks
from testsupport.review_stack_service import review_stack_service
from testsupport.tiny_units import applied_commit

pytestmark = pytest.mark.e2e
NAME = "rsu-e2e"
OWNER, REPO = "example", "units-reviewed"
WEBHOOK_SECRET = "e2e-review-units-webhook-secret"
LABEL = "preview-env"
NUMBER = 22
# Derived from the base entry's name and the pull request's number (README, "Review stacks").
REVIEW_NAMESPACE = f"{NAME}-pr-{NUMBER}"
UNITS = ("platform", "settings", "web")


def in_units(greeting: str = "hello from git") -> dict[str, Optional[str]]:
    """The service's manifests moved into one folder per unit, and the stack file declaring them."""
    flat = manifests(NAME, greeting)
    files: dict[str, Optional[str]] = {path: None for path in flat}
    files["manifests/platform/namespace.yaml"] = flat["manifests/namespace.yaml"]
    files["manifests/web/configmap.yaml"] = flat["manifests/configmap.yaml"]
    files["manifests/web/deployment.yaml"] = flat["manifests/deployment.yaml"]
    files["manifests/settings/extra-0.yaml"] = flat["manifests/extra-0.yaml"]
    return files


def objects_in(local_env: dict[str, str], namespace: str) -> dict[tuple[str, str], dict[str, str]]:
    """The ConfigMaps (with their data) and Deployments of a namespace."""
    listed = kubectl(local_env, "--namespace", namespace, "get", "configmaps,deployments", "--output", "json")
    assert listed.returncode == 0, listed.stderr
    return {(item["kind"], item["metadata"]["name"]): item.get("data", {}) for item in json.loads(listed.stdout)["items"]
            if item["metadata"]["name"] != "kube-root-ca.crt"}


def expected(greeting: str) -> dict[tuple[str, str], dict[str, str]]:
    return {("ConfigMap", "web-config"): {"GREETING": greeting}, ("ConfigMap", "extra-0"): {"n": "0"}, ("Deployment", "web"): {}}


def test_a_review_stack_of_a_stack_with_units_deploys_every_units_objects_in_its_namespace(
        tmp_path: Path, local_env, engine_env, start_service):
    repo = ClusterRepo(tmp_path, NAME, local_env)
    units = yaml.safe_load(stack_file(NAME, local_env))
    units["config"]["pulumi-gitops:units"] = {"split": "folders"}
    split = repo.remote.commit("the manifests in three units", {**in_units(), "Pulumi.local.yaml": yaml.safe_dump(units)})
    kubectl(local_env, "delete", "namespace", REVIEW_NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=180s")
    with serve_fake_github() as github:
        config, env, port = review_stack_service(tmp_path, repo, local_env, engine_env, github, LABEL, WEBHOOK_SECRET)
        service = start_service(config, env, port)
        try:
            service.wait_until(lambda: all(applied_commit(service, f"{NAME}.{unit}") == split for unit in UNITS), 900,
                               "the base stack's units applied")
            assert objects_in(local_env, NAME) == expected("hello from git"), "the units deploy the base's objects"
            pull = LabelledPullRequest(repo.remote, github, f"{OWNER}/{REPO}", NUMBER, (LABEL,))
            head = pull.push("a greeting for review", {"manifests/web/configmap.yaml": in_units("hello from review")[
                "manifests/web/configmap.yaml"]})

            body = pull.event("labeled", LABEL)
            assert service.post("/hooks/github", body, signed_event(WEBHOOK_SECRET, body))[0] == 202
            service.wait_until(lambda: ready_at(service, head), 900, "the review stack created")

            assert objects_in(local_env, REVIEW_NAMESPACE) == expected("hello from review"), \
                "every unit's namespaced objects, at the pull request's head, in one namespace"
            assert objects_in(local_env, NAME) == expected("hello from git"), "the units' objects are their own"
            [entry] = review_stacks(service)
            assert (entry["pulumi_stack"], entry["namespace"]) == (f"local-pr-{NUMBER}", REVIEW_NAMESPACE)

            pull.details["state"] = "closed"
            body = pull.event("closed")
            assert service.post("/hooks/github", body, signed_event(WEBHOOK_SECRET, body))[0] == 202
            service.wait_until(lambda: review_stacks(service) == [], 600, "the review stack destroyed")
            service.wait_until(lambda: kubectl(local_env, "get", "namespace", REVIEW_NAMESPACE).returncode != 0, 180,
                               "the review namespace gone")
            assert objects_in(local_env, NAME) == expected("hello from git"), "destroying it left the units' objects"
            assert kubectl(local_env, "get", "namespace", NAME).returncode == 0, "and the Namespace the platform unit holds"
            assert service.stop() == 0
        finally:
            repo.delete_namespace()
            kubectl(local_env, "delete", "namespace", REVIEW_NAMESPACE, "--ignore-not-found", "--wait=false")
