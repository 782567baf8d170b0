"""The Lease objects (coordination.k8s.io/v1) the replicas share, read and written with the Kubernetes Python client.

Every write carries the resourceVersion it was read at, so two replicas racing for one Lease cannot both win:
the API server answers the second with 409, raised here as `Conflict`.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Optional

import urllib3
from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

from reconciler.settings import ConfigError, CoordinationSettings

MANAGED_BY = ("app.kubernetes.io/managed-by", "pulumi-gitops-reconciler")
KIND_LABEL = "reconciler.gitops/lease"  # STACK or REPLICA
SUBJECT_ANNOTATION = "reconciler.gitops/subject"  # the stack's entry name or the replica's id, as written
# Set by a replica that got a webhook for a stack it does not hold; the holder runs the stack when it changes.
TRIGGER_ANNOTATION = "reconciler.gitops/triggered"
# On a heartbeat: the replica's host name as Pulumi's lock files name it (a pod's name), so a lock maps to its replica.
HOST_ANNOTATION = "reconciler.gitops/host"
STACK, REPLICA = "stack", "replica"
REQUEST_TIMEOUT = 5.0  # seconds; well under any renew interval


class Conflict(Exception):
    """Another replica wrote the Lease first (409), or it is gone (404): this write lost."""


class LeaseApiError(Exception):
    """The API server did not answer as expected (unreachable, forbidden, ...): nothing was decided."""


@dataclass(frozen=True)
class Lease:
    name: str
    kind: str
    subject: str
    holder: Optional[str]
    duration: float
    transitions: int
    resource_version: str
    acquired_at: Optional[datetime.datetime]
    renewed_at: Optional[datetime.datetime]
    # What others wrote on the object (kubectl annotate, a tool's label): kept on every write.
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


def lease_name(kind: str, subject: str) -> str:
    """A DNS name for the subject's Lease; a hash keeps two names apart that differ only in case or '_'/'.'."""
    label = re.sub(r"[^a-z0-9-]+", "-", subject.lower()).strip("-")[:40]
    suffix = "" if label == subject else "-" + hashlib.sha256(subject.encode()).hexdigest()[:8]
    return f"reconciler-{kind}-{label}{suffix}"


class LeaseApi:
    def __init__(self, settings: CoordinationSettings, config_path: str) -> None:
        self.namespace = settings.namespace
        try:
            if settings.kubeconfig is None:
                configuration = client.Configuration()
                config.load_incluster_config(client_configuration=configuration)
                api_client = client.ApiClient(configuration)
            else:
                api_client = config.new_client_from_config(config_file=str(settings.kubeconfig))
        except (ConfigException, OSError) as error:
            where = settings.kubeconfig or "the pod's service account"
            raise ConfigError(config_path, [
                f"coordination.kubeconfig: cannot load {where} ({error}); give a readable kubeconfig, "
                "or run in a pod with a service account"]) from None
        self._api = client.CoordinationV1Api(api_client)

    def list(self, kind: str) -> list[Lease]:
        selector = f"{MANAGED_BY[0]}={MANAGED_BY[1]},{KIND_LABEL}={kind}"
        answer = self._call(self._api.list_namespaced_lease, self.namespace, label_selector=selector)
        return [_lease(item) for item in answer.items]

    def read(self, name: str) -> Optional[Lease]:
        """The Lease as it is now; None when it is gone."""
        try:
            return _lease(self._call(self._api.read_namespaced_lease, name, self.namespace))
        except Conflict:
            return None

    def create(self, kind: str, subject: str, holder: str, duration: float, annotations: Optional[dict[str, str]] = None) -> Lease:
        now = _now()
        body = client.V1Lease(
            metadata=client.V1ObjectMeta(
                name=lease_name(kind, subject),
                labels={MANAGED_BY[0]: MANAGED_BY[1], KIND_LABEL: kind},
                annotations={**(annotations or {}), SUBJECT_ANNOTATION: subject},
            ),
            spec=client.V1LeaseSpec(
                holder_identity=holder, lease_duration_seconds=_seconds(duration),
                acquire_time=now, renew_time=now, lease_transitions=0,
            ),
        )
        return _lease(self._call(self._api.create_namespaced_lease, self.namespace, body))

    def write(self, lease: Lease, holder: Optional[str], duration: float, annotations: Optional[dict[str, str]] = None) -> Lease:
        """Renews (same holder), takes over (a new holder: acquireTime now, one more transition) or releases (None);
        `annotations` are set on top of those the Lease has."""
        now = _now()
        taken = holder is not None and holder != lease.holder
        body = client.V1Lease(
            metadata=client.V1ObjectMeta(
                name=lease.name, resource_version=lease.resource_version,
                labels={**lease.labels, MANAGED_BY[0]: MANAGED_BY[1], KIND_LABEL: lease.kind},
                annotations={**lease.annotations, **(annotations or {}), SUBJECT_ANNOTATION: lease.subject},
            ),
            spec=client.V1LeaseSpec(
                holder_identity=holder, lease_duration_seconds=_seconds(duration),
                acquire_time=now if taken else lease.acquired_at, renew_time=now if holder else lease.renewed_at,
                lease_transitions=lease.transitions + (1 if taken else 0),
            ),
        )
        return _lease(self._call(self._api.replace_namespaced_lease, lease.name, self.namespace, body))

    def annotate(self, name: str, key: str, value: str) -> None:
        """A merge patch of one annotation: no resourceVersion, so it never races the holder's renewals away."""
        self._call(self._api.patch_namespaced_lease, name, self.namespace, {"metadata": {"annotations": {key: value}}})

    def delete(self, lease: Lease) -> None:
        options = client.V1DeleteOptions(preconditions=client.V1Preconditions(resource_version=lease.resource_version))
        self._call(self._api.delete_namespaced_lease, lease.name, self.namespace, body=options)

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs, _request_timeout=REQUEST_TIMEOUT)
        except client.ApiException as error:
            if error.status in (404, 409):
                raise Conflict(f"{error.status} {error.reason}") from None
            raise LeaseApiError(f"the API server answered {error.status} {error.reason}") from None
        except urllib3.exceptions.HTTPError as error:
            raise LeaseApiError(f"the API server cannot be reached ({type(error).__name__})") from None


def _lease(item: client.V1Lease) -> Lease:
    spec, meta = item.spec, item.metadata
    return Lease(
        name=meta.name,
        kind=(meta.labels or {}).get(KIND_LABEL, ""),
        subject=(meta.annotations or {}).get(SUBJECT_ANNOTATION, meta.name),
        holder=spec.holder_identity or None,
        duration=float(spec.lease_duration_seconds or 0),
        transitions=spec.lease_transitions or 0,
        resource_version=meta.resource_version,
        acquired_at=spec.acquire_time,
        renewed_at=spec.renew_time,
        labels=dict(meta.labels or {}),
        annotations=dict(meta.annotations or {}),
    )


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _seconds(duration: float) -> int:
    return max(int(round(duration)), 1)
