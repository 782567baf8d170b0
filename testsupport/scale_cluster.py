"""What the scale benchmark and the scale test need from the cluster: kubectl, a node of their own, live objects.

Everything here is created under names of its own (a set's prefix, a node
name), so runs never touch another stack's objects on the shared cluster.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import time
from dataclasses import dataclass
from typing import Optional

from testsupport.scale_manifests import NODE_LABEL, RESOURCES, ManifestSet

CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition"}
# Objects the API server makes in every namespace by itself.
BUILT_IN = {("serviceaccounts", "default"), ("configmaps", "kube-root-ca.crt")}


@dataclass
class Kubectl:
    kubeconfig: str

    def run(self, *args: str, input: Optional[str] = None, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(
            ["kubectl", "--kubeconfig", self.kubeconfig, *args],
            input=input, capture_output=True, text=True, timeout=timeout,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[:2000]}")
        return done

    def items(self, *args: str) -> list[dict]:
        return json.loads(self.run("get", *args, "--output", "json").stdout)["items"]


def live_objects(kubectl: Kubectl, manifest_set: ManifestSet, selector: str) -> dict[str, set[tuple[str, str]]]:
    """The set's kinds as kubectl names them, to the (namespace, name) of every live object the selector matches."""
    found: dict[str, set[tuple[str, str]]] = {}
    for item in kubectl.items(",".join(RESOURCES.values()), "--all-namespaces", "--selector", selector):
        _add(found, manifest_set, item)
    for item in _widgets(kubectl, manifest_set, "--all-namespaces", "--selector", selector):
        _add(found, manifest_set, item)
    return found


def objects_in_namespaces(kubectl: Kubectl, manifest_set: ManifestSet, namespaces: list[str]) -> dict[str, set[tuple[str, str]]]:
    """Every object of the set's namespaced kinds in those namespaces, whatever its labels (built-in ones left out)."""
    namespaced = [resource for kind, resource in RESOURCES.items() if kind not in CLUSTER_SCOPED]
    found: dict[str, set[tuple[str, str]]] = {}
    for namespace in namespaces:
        for item in kubectl.items(",".join(namespaced), "--namespace", namespace):
            _add(found, manifest_set, item)
        for item in _widgets(kubectl, manifest_set, "--namespace", namespace):
            _add(found, manifest_set, item)
    return found


def _widgets(kubectl: Kubectl, manifest_set: ManifestSet, *args: str) -> list[dict]:
    """The set's custom objects; none once its CRD is gone."""
    done = kubectl.run("get", manifest_set.resource("Widget"), *args, "--output", "json", check=False)
    if done.returncode != 0:
        if "doesn't have a resource type" in done.stderr:
            return []
        raise RuntimeError(f"kubectl get {manifest_set.resource('Widget')} failed: {done.stderr.strip()[:2000]}")
    return json.loads(done.stdout)["items"]


def _add(found: dict[str, set[tuple[str, str]]], manifest_set: ManifestSet, item: dict) -> None:
    metadata = item["metadata"]
    resource = manifest_set.resource(item["kind"])
    if (resource, metadata["name"]) in BUILT_IN:
        return
    found.setdefault(resource, set()).add((metadata.get("namespace", ""), metadata["name"]))


def wait_gone(kubectl: Kubectl, resources: str, selector: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while kubectl.items(resources, "--all-namespaces", "--selector", selector):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{resources} with {selector} still exist after {timeout:.0f}s")
        time.sleep(1)


class BenchNode:
    """A kwok node only the set's pods schedule onto (tainted, selected by label), so 1,000-object sets
    neither fill the shared node (110 pods) nor land other stacks' pods on a node the run deletes."""

    def __init__(self, kubectl: Kubectl, name: str, pods: int = 2000) -> None:
        self.kubectl, self.name, self.pods = kubectl, name, pods

    def create(self) -> None:
        capacity = {"cpu": "1000", "memory": "4Ti", "pods": str(self.pods)}
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.name,
                "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {NODE_LABEL: self.name, "type": "kwok", "kubernetes.io/hostname": self.name,
                           "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"},
            },
            # Its own pod range: kwok's default one (a /24) is too small for a 1,000-object set.
            "spec": {"podCIDR": "10.250.0.0/20", "podCIDRs": ["10.250.0.0/20"],
                     "taints": [{"key": NODE_LABEL, "value": self.name, "effect": "NoSchedule"}]},
            "status": {"allocatable": capacity, "capacity": capacity},
        }
        self.kubectl.run("create", "--filename", "-", input=json.dumps(node))
        self.kubectl.run("wait", "--for=condition=Ready", f"node/{self.name}", "--timeout=60s")

    def delete(self) -> None:
        self.kubectl.run("delete", "node", self.name, "--ignore-not-found", "--wait=true", check=False)


class KubectlApplySet:
    """The kubectl side: `kubectl apply --server-side --prune` with an ApplySet whose parent is cluster-scoped.

    kubectl requires a cluster-scoped parent for a set spanning namespaces, and
    does not create custom parents itself: the parent's CRD (labelled as an
    ApplySet parent type) and the parent object are made once, before timing.
    """

    def __init__(self, kubectl: Kubectl, manifest_set: ManifestSet) -> None:
        self.kubectl = kubectl
        self.prefix = manifest_set.prefix
        self.group = manifest_set.group
        self.parent = f"applysets.{self.group}/{self.prefix}"
        # The ApplySet id, as the ApplySet spec defines it: <name>.<namespace>.<kind>.<group>, hashed.
        digest = hashlib.sha256(f"{self.prefix}..ApplySet.{self.group}".encode()).digest()
        self.id = "applyset-" + base64.urlsafe_b64encode(digest).decode().rstrip("=") + "-v1"

    @property
    def labels(self) -> dict[str, str]:
        """Labels the files carry, so `kubectl diff` of an applied set shows no change."""
        return {"applyset.kubernetes.io/part-of": self.id}

    def create_parent(self) -> None:
        crd = {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"applysets.{self.group}", "labels": {"applyset.kubernetes.io/is-parent-type": "true"}},
            "spec": {
                "group": self.group,
                "names": {"kind": "ApplySet", "plural": "applysets", "singular": "applyset", "listKind": "ApplySetList"},
                "scope": "Cluster",
                "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {"type": "object"}}}],
            },
        }
        self.kubectl.run("create", "--filename", "-", input=json.dumps(crd))
        self.kubectl.run("wait", "--for=condition=Established", f"crd/applysets.{self.group}", "--timeout=60s")
        parent = {
            "apiVersion": f"{self.group}/v1",
            "kind": "ApplySet",
            "metadata": {
                "name": self.prefix,
                "labels": {"applyset.kubernetes.io/id": self.id},
                "annotations": {"applyset.kubernetes.io/tooling": f"kubectl/{self._client_version()}",
                                "applyset.kubernetes.io/contains-group-kinds": ""},
            },
        }
        # As kubectl would make it: its field manager, its tooling name, no group-kinds yet.
        self.kubectl.run("apply", "--server-side", "--field-manager=kubectl-applyset", "--filename", "-",
                         input=json.dumps(parent))

    def _client_version(self) -> str:
        return json.loads(self.kubectl.run("version", "--client", "--output", "json").stdout)["clientVersion"]["gitVersion"]

    def apply_args(self, folder: str) -> list[str]:
        return ["apply", "--server-side", "--prune", f"--applyset={self.parent}", "--recursive", "--filename", folder]

    def delete_all(self, manifest_set: ManifestSet) -> None:
        """The set's namespaces (with everything in them), its CRD and the parent, waited for."""
        if manifest_set.namespaces:
            self.kubectl.run("delete", "namespace", *manifest_set.namespaces, "--ignore-not-found", "--timeout=300s", check=False)
        self.kubectl.run("delete", "crd", f"widgets.{self.group}", f"applysets.{self.group}", "--ignore-not-found",
                         "--timeout=120s", check=False)
