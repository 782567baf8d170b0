"""The `coordination:` section: replicas that share the stacks through Kubernetes Leases (optional)."""

from __future__ import annotations

import re
import socket
from typing import Optional

from pydantic import Field, ValidationInfo, field_validator

from .fields import PositiveDuration, RelativePath, written
from .sections import Section

# The fence's own delay beyond the kill grace: noticing the Lease is short (a few polls) and the SIGKILLed group's exit.
FENCE_SLACK_S = 1.0
_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"


def host_replica_id() -> str:
    """The host name (a pod's name in Kubernetes), as a DNS label."""
    label = re.sub(r"[^a-z0-9-]+", "-", socket.gethostname().lower()).strip("-")[:63].strip("-")
    return label or "replica"


class CoordinationSection(Section):
    kubeconfig: Optional[RelativePath] = Field(
        None, description="kubeconfig of the cluster holding the Leases; unset: the pod's service account (in-cluster)",
    )
    namespace: str = Field("default", json_schema_extra={"pattern": _DNS_LABEL}, description="namespace of the Leases")
    lease_duration: PositiveDuration = written("30s", "a stack's Lease lapses this long after its holder's last renewal")
    renew_every: PositiveDuration = written("5s", "how often a replica renews its Leases and rebalances; at most lease_duration / 3")
    kill_grace: PositiveDuration = written(
        "5s", "how long a replica about to lose a stack's Lease lets its pulumi stop on SIGINT before SIGKILL; "
              "at most lease_duration - 2 x renew_every - 1s")
    replica_id: Optional[str] = Field(
        None, json_schema_extra={"pattern": _DNS_LABEL},
        description="this replica's identity in the Leases (unique per replica); unset: the host name (the pod's name)",
    )

    @field_validator("namespace", "replica_id")
    @classmethod
    def _dns_label(cls, name: Optional[str]) -> Optional[str]:
        # A namespace's name, and a replica id that names a Lease, as a pod's name does.
        if name is not None and not re.fullmatch(_DNS_LABEL, name):
            raise ValueError(f"must be a DNS label (lowercase letters, digits, '-', at most 63), got {name!r}")
        return name

    @field_validator("renew_every")
    @classmethod
    def _renewed_in_time(cls, every: float, info: ValidationInfo) -> float:
        # Two renewals may fail before a holder loses its stacks.
        if every * 3 > info.data.get("lease_duration", every * 3):
            raise ValueError(f"must be at most a third of coordination.lease_duration, got {every:g}s")
        return every

    @field_validator("kill_grace")
    @classmethod
    def _fits_in_the_lease(cls, grace: float, info: ValidationInfo) -> float:
        # The fence starts when less than grace + FENCE_SLACK_S is left; a healthy holder, renewing every renew_every,
        # must never get there (two renewals may fail first), and the CLI must be dead before anyone sees the lapse.
        duration, every = info.data.get("lease_duration"), info.data.get("renew_every")
        if duration is not None and every is not None and grace + FENCE_SLACK_S > duration - 2 * every:
            raise ValueError(f"must be at most coordination.lease_duration - 2 x renew_every - {FENCE_SLACK_S:g}s "
                             f"({duration - 2 * every - FENCE_SLACK_S:g}s), got {grace:g}s: raise lease_duration or lower it")
        return grace
