"""A review stack's copy of the manifests: every namespaced object in the review stack's own namespace.

A review stack shares its cluster with the stack it is derived from, so nothing
it applies may be an object that stack already owns. Namespaced objects are
moved into the review namespace (created here, first); cluster-scoped objects
(the manifests' own Namespaces, ClusterRoles, CRDs...) exist once per cluster
and belong to the base stack: they are left out, and the review stack uses the
base stack's. Two objects that only their namespaces told apart would become
one: that is refused, naming both.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

from .errors import ManifestError
from .model import LoadedManifests, ManifestObject, ObjectKey
from .objects import duplicate_problems

# Where the created Namespace says it comes from (its source annotation): no file holds it.
REVIEW_NAMESPACE_SOURCE = "review-stack"


@dataclass(frozen=True)
class ReviewManifests:
    loaded: LoadedManifests  # the review namespace's Namespace first, then the moved objects
    left_out: list[str]  # the cluster-scoped objects the base stack keeps, as `Kind/name`


def into_review_namespace(loaded: LoadedManifests, namespace: str) -> ReviewManifests:
    """The objects a review stack applies; raises ManifestError when moving them makes two objects one."""
    created = ManifestObject(
        path=REVIEW_NAMESPACE_SOURCE, doc_index=0, line=1, commit=loaded.commit,
        body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        key=ObjectKey("", "Namespace", "", namespace),
    )
    moved, left_out = [created], []
    for obj in loaded.objects:
        if not obj.key.namespace:
            left_out.append(obj.ref)
            continue
        body = copy.deepcopy(obj.body)
        body["metadata"]["namespace"] = namespace
        moved.append(replace(obj, body=body, key=obj.key._replace(namespace=namespace)))
    problems = duplicate_problems(moved)
    if problems:
        raise ManifestError(problems)
    return ReviewManifests(replace(loaded, objects=moved), left_out)
