"""Fields whose change the kubernetes provider applies as a replacement (delete and create), not as an update.

The API server refuses an update of an immutable field, in a dry-run as in
the apply. When the provider replaces the object for that field anyway, the
refusal is no reason to refuse the commit: the change goes ahead as a
replacement, which the deletion guard counts. When it does not, the apply
would fail half-way, so the dry-run's refusal stands.

This mirrors `forceNew` in pulumi-kubernetes' provider/pkg/provider/diff.go
(the version requirements.txt pins), for the API versions Kubernetes serves.
"""

from __future__ import annotations

_SELECTOR = ("spec.selector",)

# (group, kind) -> field paths (as the API server names them in a refusal's causes) the provider replaces on.
REPLACED_ON = {
    ("apps", "Deployment"): _SELECTOR,
    ("apps", "DaemonSet"): _SELECTOR,
    ("apps", "StatefulSet"): (
        *_SELECTOR, "spec.podManagementPolicy", "spec.revisionHistoryLimit", "spec.serviceName", "spec.volumeClaimTemplates",
    ),
    ("batch", "Job"): (*_SELECTOR, "spec.completions", "spec.parallelism", "spec.template"),
    ("", "PersistentVolume"): ("spec",),
    ("", "PersistentVolumeClaim"): (*_SELECTOR, "spec.accessModes", "spec.storageClassName", "spec.volumeName"),
    ("", "Pod"): ("spec",),
    ("", "ResourceQuota"): ("spec.scopes",),
    ("", "Service"): ("spec.clusterIP",),
    # An `immutable: true` ConfigMap or Secret is replaced when its data changes; any Secret when its type does.
    ("", "ConfigMap"): ("data", "binaryData"),
    ("", "Secret"): ("type", "data", "stringData"),
    ("rbac.authorization.k8s.io", "RoleBinding"): ("roleRef",),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): ("roleRef",),
    ("storage.k8s.io", "StorageClass"): ("parameters", "provisioner"),
}


def replaced_by_provider(group: str, kind: str, fields: list[str]) -> bool:
    """Whether the provider replaces the object for a change of every one of these fields."""
    prefixes = REPLACED_ON.get((group, kind), ())
    return bool(fields) and all(
        any(field == prefix or field.startswith((prefix + ".", prefix + "[")) for prefix in prefixes) for field in fields
    )
