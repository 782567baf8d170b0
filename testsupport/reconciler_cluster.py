"""A service repository with this project's real program, watched by the reconciler and deployed to the local cluster.

Each repository deploys into a namespace of its own (and an image repository of
its own), so its objects never meet those of another test or of tests/e2e.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any, Optional

import yaml

from testsupport.reconciler_testing import PROJECT_DIR, GitRemote

# What a service repository holds: the program, its app and its manifests (manifests are written per test).
PROGRAM_FILES = [
    ".gitignore", "Pulumi.yaml", "__main__.py", "program.py", "stack_settings.py", "source_revision.py",
    "requirements.txt", "components", "manifest_loader", "app",
]
PASSPHRASE_ENV = "RECONCILER_E2E_PASSPHRASE"
REGISTRY_PASSWORD_ENV = "RECONCILER_E2E_REGISTRY_PASSWORD"


def manifests(namespace: str, greeting: str = "hello from git", extra_config_maps: int = 1) -> dict[str, Optional[str]]:
    files: dict[str, Optional[str]] = {
        "manifests/namespace.yaml": f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {namespace}\n",
        "manifests/configmap.yaml": textwrap.dedent(f"""\
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: web-config
            data:
              GREETING: {greeting}
            """),
        "manifests/deployment.yaml": textwrap.dedent("""\
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: web
            spec:
              replicas: 1
              selector:
                matchLabels: {app: web}
              template:
                metadata:
                  labels: {app: web}
                spec:
                  containers:
                    - name: app
                      image: ${image:app}
                      envFrom:
                        - configMapRef: {name: web-config}
            """),
    }
    for index in range(extra_config_maps):
        files[f"manifests/extra-{index}.yaml"] = (
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra-{index}\ndata:\n  n: \"{index}\"\n"
        )
    return files


def stack_file(name: str, local_env: dict[str, str]) -> str:
    """Pulumi.local.yaml of the service repository: its own app name and namespace on the local environment.

    The kubeconfig and a (secret, unused) registryPassword come from the reconciler config, as overrides.
    """
    registry = local_env["GITOPS_REGISTRY"]
    return yaml.safe_dump({"config": {
        "pulumi-gitops:target": "local",
        "pulumi-gitops:appName": name,
        "pulumi-gitops:defaultNamespace": name,
        "pulumi-gitops:registryAddress": registry,
        "pulumi-gitops:kubeconfig": ".state/kubeconfig",
        "pulumi-gitops:kubeContext": "gitops-local",
        "pulumi-gitops:imageBuildArgs": {"BASE_IMAGE": f"{registry}/base/python:3.11"},
        "pulumi-gitops:dockerHost": local_env["DOCKER_HOST"],
    }}, sort_keys=False)


def units_stack_file(name: str, local_env: dict[str, str]) -> str:
    """stack_file with the manifests split into units, one per top-level folder."""
    settings = yaml.safe_load(stack_file(name, local_env))
    settings["config"]["pulumi-gitops:units"] = {"split": "folders"}
    return yaml.safe_dump(settings, sort_keys=False)


class ClusterRepo:
    """The remote and author clone of one service, plus its reconciler stack entry."""

    def __init__(self, root: Path, name: str, local_env: dict[str, str]) -> None:
        self.name = name
        self.namespace = name
        self.local_env = local_env
        self.remote = GitRemote(root)
        self.backend = root / "backend"
        # A run just before this one may still be deleting the namespace: objects cannot be created in it until it is gone.
        subprocess.run(["kubectl", "--kubeconfig", local_env["KUBECONFIG"], "delete", "namespace", name, "--ignore-not-found",
                        "--wait=true", "--timeout=180s"], capture_output=True, timeout=200)
        for entry in PROGRAM_FILES:
            source = PROJECT_DIR / entry
            target = self.remote.clone / entry
            if source.is_dir():
                shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source, target)
        self.remote.write({"Pulumi.local.yaml": stack_file(name, local_env), **manifests(name)})
        self.first_commit = self.remote.commit("service: first commit")

    def stack_entry(self, **overrides: Any) -> dict[str, Any]:
        entry = {
            "name": self.name,
            "repo": {"url": str(self.remote.bare)},
            "branch": "main",
            "stack": "local",
            "backend_url": f"file://{self.backend}",
            "secrets_passphrase": {"env": PASSPHRASE_ENV},
            "resync_interval": "3s",
            "drift_interval": "off",
            "deletion_guard": "off",
            "virtualenv": str(PROJECT_DIR / ".venv"),
            "config": {
                "pulumi-gitops:kubeconfig": self.local_env["KUBECONFIG"],
                "pulumi-gitops:registryPassword": {"secret_env": REGISTRY_PASSWORD_ENV},
            },
            # A preview runs as its own user, who reads only what it is given.
            "preview_files": [self.local_env["KUBECONFIG"]],
        }
        entry.update(overrides)
        return entry

    def kubectl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["kubectl", "--kubeconfig", self.local_env["KUBECONFIG"], "--namespace", self.namespace, *args],
                              capture_output=True, text=True, timeout=120)

    def get(self, kind: str, name: str) -> Optional[dict[str, Any]]:
        found = self.kubectl("get", kind, name, "--output", "json")
        if found.returncode != 0:
            assert "NotFound" in found.stderr, found.stderr
            return None
        return json.loads(found.stdout)

    def greeting(self) -> Optional[str]:
        config_map = self.get("configmap", "web-config")
        return None if config_map is None else config_map["data"]["GREETING"]

    def commit_label(self, kind: str = "configmap", name: str = "web-config") -> Optional[str]:
        found = self.get(kind, name)
        return None if found is None else found["metadata"]["labels"].get("pulumi-gitops.dev/commit")

    def delete_namespace(self) -> None:
        subprocess.run(["kubectl", "--kubeconfig", self.local_env["KUBECONFIG"], "delete", "namespace", self.namespace,
                        "--ignore-not-found", "--wait=false"], capture_output=True, timeout=120)
