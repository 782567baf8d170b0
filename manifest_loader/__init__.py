"""Loads the Kubernetes manifests that Git tracks, validates them, and renders them for deployment.

    loaded = load_manifests(repo_dir, "manifests", kubernetes_version="1.34", secret_names=["db-password"])
    objs = render_objects(loaded.objects, images={"app": ref}, secrets={"db-password": value})

Pure Python (GitPython, PyYAML, jsonschema and kubernetes-validate's schemas); nothing here imports Pulumi.
"""

from .errors import ManifestError, ManifestProblem
from .kubernetes_schemas import DEFAULT_KUBERNETES_VERSION, UnsupportedVersion, supported_versions
from .loading import load_manifests
from .model import LoadedManifests, ManifestObject, ObjectKey
from .objects import CLUSTER_SCOPED_KINDS
from .placeholders import PLACEHOLDER, SECRET_PLACEHOLDER, secret_names_used
from .rendering import render_objects
from .stamping import COMMIT_LABEL, MANAGED_BY_LABEL, MANAGER_NAME, SOURCE_ANNOTATION

__all__ = [
    "CLUSTER_SCOPED_KINDS",
    "DEFAULT_KUBERNETES_VERSION",
    "COMMIT_LABEL",
    "LoadedManifests",
    "MANAGED_BY_LABEL",
    "MANAGER_NAME",
    "ManifestError",
    "ManifestObject",
    "ManifestProblem",
    "ObjectKey",
    "PLACEHOLDER",
    "SECRET_PLACEHOLDER",
    "SOURCE_ANNOTATION",
    "UnsupportedVersion",
    "load_manifests",
    "render_objects",
    "secret_names_used",
    "supported_versions",
]
