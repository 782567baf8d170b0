"""Names of its own for a test's reconciler in the cluster, beside the one `make up` deploys.

`make up` runs the reconciler in the cluster (Pulumi.local.yaml: reconcilerImage) under fixed names: the Namespace
`gitops-system` (its Deployment, ConfigMap, Leases...), the PersistentVolume `gitops-reconciler-state` and the
ClusterRoleBinding `gitops-reconciler`. A copy of the project deploying those would take them over, and its destroy
would delete them. A copy's manifests get NAME for the Namespace and the binding, `NAME-state` for the volume
(the same folder on the node: each replica keeps its own `replicas/<pod>` there).
"""

from __future__ import annotations

import re
from pathlib import Path

NAMESPACE = "gitops-system"
VOLUME = "gitops-reconciler-state"
BINDING = re.compile(r"\bgitops-reconciler\b(?!-)")  # not the storage class gitops-reconciler-local


def give_own_names(project_root: Path, name: str) -> None:
    """Renames the fixed names in the copy's deploy/reconciler/*.yaml."""
    for path in sorted((project_root / "deploy" / "reconciler").glob("*.yaml")):
        text = path.read_text().replace(VOLUME, f"{name}-state").replace(NAMESPACE, name)
        path.write_text(BINDING.sub(name, text))
