"""The `coordination:` section: replicas that share the stacks through Kubernetes Leases (optional)."""

from __future__ import annotations

import re
import socket
from typing import Optional

from pydantic import Field, ValidationInfo, field_validator

from .fields import PositiveDuration, RelativePath, written
from .sections import Section

# A replica id names its heartbeat Lease: a DNS label, as a pod's name is.
_REPLICA_ID = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
_NAMESPACE = _REPLICA_ID


def host_replica_id() -> str:
    """The host name (a pod's name in Kubernetes), as a DNS label."""
    label = re.sub(r"[^a-z0-9-]+", "-", socket.gethostname().lower()).strip("-")[:63].strip("-")
    return label or "replica"


class CoordinationSection(Section):
    kubeconfig: Optional[RelativePath] = Field(
        None, description="kubeconfig of the cluster holding the Leases; unset: the pod's service account (in-cluster)",
    )
    namespace: str = Field("default", json_schema_extra={"pattern": _NAMESPACE}, description="namespace of the Leases")
    lease_duration: PositiveDuration = written("30s", "a stack's Lease lapses this long after its holder's last renewal")
    renew_every: PositiveDuration = written("5s", "how often a replica renews its Leases and rebalances; at most lease_duration / 3")
    replica_id: Optional[str] = Field(
        None, json_schema_extra={"pattern": _REPLICA_ID},
        description="this replica's identity in the Leases (unique per replica); unset: the host name (the pod's name)",
    )

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, name: str) -> str:
        if not re.fullmatch(_NAMESPACE, name):
            raise ValueError(f"must be a Kubernetes namespace name (lowercase letters, digits, '-'), got {name!r}")
        return name

    @field_validator("replica_id")
    @classmethod
    def _replica_id(cls, name: Optional[str]) -> Optional[str]:
        if name is not None and not re.fullmatch(_REPLICA_ID, name):
            raise ValueError(f"must be a DNS label (lowercase letters, digits, '-', at most 63), got {name!r}")
        return name

    @field_validator("renew_every")
    @classmethod
    def _renewed_in_time(cls, every: float, info: ValidationInfo) -> float:
        # Two renewals may fail before a holder loses its stacks.
        if every * 3 > info.data.get("lease_duration", every * 3):
            raise ValueError(f"must be at most a third of coordination.lease_duration, got {every:g}s")
        return every
