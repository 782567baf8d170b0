"""What an `up` waits for before it calls an object ready: the stack's `awaits` choice, as provider annotations.

- `kstatus` (the default): what Flux's health checks (kstatus) count as ready. The provider's own awaits are
  kept for the kinds kstatus judges by their status (a Deployment's rollout, a StatefulSet, a DaemonSet, a Job,
  a Pod, a PersistentVolumeClaim being bound); the kinds kstatus counts ready once they exist skip the
  provider's wait (a Service's endpoints plus its fixed 10 s settle time, an Ingress's load balancer address).
- `provider`: the Kubernetes provider's awaits for every kind, as a plain Pulumi program has them.
- `none`: nothing is awaited; an `up` ends once the API server accepted every object.

An object that sets `pulumi.com/skipAwait` itself keeps its own choice.
"""

from __future__ import annotations

from typing import Any

AWAIT_MODES = ("kstatus", "provider", "none")
SKIP_AWAIT_ANNOTATION = "pulumi.com/skipAwait"

# (API group, kind) the provider waits on but kstatus counts ready as soon as they exist.
_READY_ONCE_THEY_EXIST = frozenset({
    ("", "Service"),
    ("networking.k8s.io", "Ingress"),
    ("extensions", "Ingress"),
    ("", "Secret"),
    ("", "ServiceAccount"),
    ("", "ResourceQuota"),
    ("", "PersistentVolume"),
    ("", "ReplicationController"),
})


def skips_await(body: dict[str, Any], awaits: str) -> bool:
    """Whether an `up` with this `awaits` choice goes on without waiting for the object."""
    if awaits not in AWAIT_MODES:
        raise ValueError(f"awaits {awaits!r} is not one of {', '.join(AWAIT_MODES)}")
    if awaits == "none":
        return True
    if awaits == "provider":
        return False
    group = str(body.get("apiVersion", "")).rpartition("/")[0]
    return (group, body.get("kind")) in _READY_ONCE_THEY_EXIST


def mark_awaits(body: dict[str, Any], awaits: str) -> None:
    if not skips_await(body, awaits):
        return
    annotations = body["metadata"].get("annotations") or {}
    annotations.setdefault(SKIP_AWAIT_ANNOTATION, "true")
    body["metadata"]["annotations"] = annotations
