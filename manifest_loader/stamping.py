"""Labels and annotations on every deployed object: who manages it, from which commit, from which file, and that
Git's values win over hand edits.

The commit label is the last commit that changed the object's file (objects are
read from committed blobs, so it is never dirty); the deployed head is the
stack's `commit` output.
"""

from __future__ import annotations

import re
from typing import Any

MANAGER_NAME = "pulumi-gitops"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
COMMIT_LABEL = "pulumi-gitops.dev/commit"
SOURCE_ANNOTATION = "pulumi-gitops.dev/source"
# Git wins over hand edits on every path (`pulumi up`, `make deploy-local`, the reconciler): server-side apply
# takes back a field someone changed with kubectl instead of failing on the conflict. An object that says
# "false" keeps such edits.
PATCH_FORCE_ANNOTATION = "pulumi.com/patchForce"

_COMMIT = re.compile(r"[0-9a-f]{40}")


def commit_label_value(commit: str) -> str:
    """The full commit id: a valid label value (40 chars, alphanumeric)."""
    if not isinstance(commit, str) or not _COMMIT.fullmatch(commit):
        raise ValueError(f"commit {commit!r} is not a 40-hex Git commit id")
    return commit


def stamp(body: dict[str, Any], commit_label: str, source: str) -> None:
    """Set the labels and annotation on the object's own metadata; pod templates are left alone."""
    metadata = body["metadata"]
    labels = metadata.get("labels") or {}
    labels[MANAGED_BY_LABEL] = MANAGER_NAME
    labels[COMMIT_LABEL] = commit_label
    metadata["labels"] = labels
    annotations = metadata.get("annotations") or {}
    annotations[SOURCE_ANNOTATION] = source
    annotations.setdefault(PATCH_FORCE_ANNOTATION, "true")
    metadata["annotations"] = annotations
