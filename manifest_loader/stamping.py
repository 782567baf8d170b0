"""Labels and annotations on every deployed object: who manages it, from which commit, from which file, and that
Git's values win over hand edits.

The commit label is the last commit that changed the object's file (objects are
read from committed blobs, so it is never dirty); the deployed head is the
stack's `commit` output.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

MANAGER_NAME = "pulumi-gitops"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
COMMIT_LABEL = "pulumi-gitops.dev/commit"
SOURCE_ANNOTATION = "pulumi-gitops.dev/source"
# The stack's inventory, as Flux keeps one: after a run killed without checkpoints, the reconciler finds the objects
# it created by this label (reconciler/engine/inventory_sweep.py).
STACK_LABEL = "pulumi-gitops.dev/stack"
# Git wins over hand edits on every path (`pulumi up`, `make deploy-local`, the reconciler): server-side apply
# takes back a field someone changed with kubectl instead of failing on the conflict. An object that says
# "false" keeps such edits.
PATCH_FORCE_ANNOTATION = "pulumi.com/patchForce"

_COMMIT = re.compile(r"[0-9a-f]{40}")
_LABEL_VALUE = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")


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


def stack_label_value(project: str, stack: str) -> str:
    """`<project>.<stack>` when that is a valid label value; else its readable start and a hash of the whole."""
    value = f"{project}.{stack.rsplit('/', 1)[-1]}"
    if _LABEL_VALUE.fullmatch(value):
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:12]
    start = re.sub(r"[^-A-Za-z0-9_.]", "-", value)[:50].strip("-_.")
    return f"{start}-{digest}" if start else digest


def stamp_stack(body: dict[str, Any], stack_label: str) -> None:
    """Label the object with the stack that deploys it (its own metadata; pod templates are left alone)."""
    metadata = body["metadata"]
    metadata["labels"] = {**(metadata.get("labels") or {}), STACK_LABEL: stack_label}
