"""Loads the Kubernetes manifests that Git tracks, validates them, and renders them for deployment.

    loaded = load_manifests(repo_dir, "manifests")
    objs = render_objects(loaded.objects, images={"app": ref})

Pure Python (GitPython and PyYAML); nothing here imports Pulumi.
"""

from .errors import ManifestError, ManifestProblem
from .loading import load_manifests
from .model import LoadedManifests, ManifestObject, ObjectKey
from .objects import CLUSTER_SCOPED_KINDS
from .placeholders import PLACEHOLDER
from .rendering import render_objects
from .stamping import COMMIT_LABEL, MANAGED_BY_LABEL, MANAGER_NAME, SOURCE_ANNOTATION

__all__ = [
    "CLUSTER_SCOPED_KINDS",
    "COMMIT_LABEL",
    "LoadedManifests",
    "MANAGED_BY_LABEL",
    "MANAGER_NAME",
    "ManifestError",
    "ManifestObject",
    "ManifestProblem",
    "ObjectKey",
    "PLACEHOLDER",
    "SOURCE_ANNOTATION",
    "load_manifests",
    "render_objects",
]
