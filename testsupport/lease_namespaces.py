"""A namespace of its own on the local Kubernetes API server for each Lease test, deleted afterwards."""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path
from typing import Any, Iterator

from kubernetes import client, config

from reconciler.coordination.lease_api import LeaseApi
from reconciler.coordination.stack_leases import StackLeases
from reconciler.settings import CoordinationSettings


@contextlib.contextmanager
def lease_namespace(kubeconfig: Path) -> Iterator[str]:
    core = client.CoreV1Api(config.new_client_from_config(config_file=str(kubeconfig)))
    name = f"leases-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    try:
        yield name
    finally:
        core.delete_namespace(name)


def holders(kubeconfig: Path, namespace: str) -> dict[str, tuple[str, int]]:
    """Each stack Lease's subject: (holderIdentity, leaseTransitions), read straight from the API server."""
    api = client.CoordinationV1Api(config.new_client_from_config(config_file=str(kubeconfig)))
    leases = api.list_namespaced_lease(namespace, label_selector="reconciler.gitops/lease=stack").items
    return {lease.metadata.annotations["reconciler.gitops/subject"]: (lease.spec.holder_identity or "", lease.spec.lease_transitions or 0)
            for lease in leases}


def stack_leases(kubeconfig: Path, namespace: str, replica_id: str, stacks: list[str], duration: float,
                 **callbacks: Any) -> StackLeases:
    """One replica's StackLeases with an API client of its own, renewing every second; its rounds are the test's."""
    settings = CoordinationSettings(kubeconfig, namespace, duration, 1.0, replica_id)
    return StackLeases(settings, stacks, LeaseApi(settings, "reconciler.yaml"), **callbacks)


def rounds(*replicas: StackLeases, count: int = 3) -> None:
    """`count` rounds of every replica in turn."""
    for _ in range(count):
        for each in replicas:
            each.sync()
