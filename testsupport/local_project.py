"""A copy of this project in its own Git repository, deployed with the real `pulumi` CLI to the local stack."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import git
import yaml

from testsupport.in_cluster_names import give_own_names

PROJECT_DIR = Path(__file__).resolve().parent.parent
# What a service repository holds: the program, its app and its manifests.
PROGRAM_FILES = [
    ".gitignore", "Pulumi.yaml", "Pulumi.local.yaml", "__main__.py", "program.py", "stack_settings.py",
    "source_revision.py", "requirements.txt", "components", "manifest_loader", "app", "manifests",
]
# `make up` runs the reconciler in the cluster; a test's stack does only when it asks (LocalProject.create).
IN_CLUSTER_KEY = "pulumi-gitops:reconcilerImage"


def without_reconciler_in_cluster(config: dict[str, Any]) -> dict[str, Any]:
    """A stack file's config as a test's stack starts with it: without the reconciler in the cluster, which every
    test would otherwise deploy under `make up`'s fixed names (gitops-system, the PersistentVolume)."""
    return {key: value for key, value in config.items() if key != IN_CLUSTER_KEY}


@dataclass
class PulumiResult:
    returncode: int
    output: str


class LocalProject:
    def __init__(self, root: Path, local_env: dict[str, str], backend_dir: Path, namespace: str) -> None:
        self.root = root
        self.local_env = local_env
        self.backend_dir = backend_dir
        self.namespace = namespace

    @classmethod
    def create(cls, root: Path, local_env: dict[str, str], extra_files: tuple[str, ...] = (),
               in_cluster: bool = False) -> "LocalProject":
        """A service repository whose objects live in a namespace of its own, with EXTRA_FILES of this project too.

        Every Pulumi stack owns its objects (server-side apply field managers),
        so tests must not share objects with `make up` or with each other. IN_CLUSTER: the copy deploys the
        reconciler too (EXTRA_FILES must bring deploy/ and reconciler/), under names of its own (in_cluster_names.py).
        """
        root.mkdir(parents=True)
        for name in (*PROGRAM_FILES, *extra_files):
            source = PROJECT_DIR / name
            if source.is_dir():
                shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, root / name)
        # The stack finds its kubeconfig under .state and its interpreter in .venv, both ignored by Git.
        (root / ".state").symlink_to(local_env["GITOPS_STATE_DIR"])
        (root / ".venv").symlink_to(PROJECT_DIR / ".venv")
        namespace = f"e2e-{root.parent.name[-12:].lower().replace('_', '-').strip('-')}"
        (root / "manifests" / "namespace.yaml").write_text(
            f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {namespace}\n"
        )
        project = cls(root, local_env, root.parent / f"{root.name}-backend", namespace)
        stack_file = root / "Pulumi.local.yaml"
        content = yaml.safe_load(stack_file.read_text())
        config = without_reconciler_in_cluster(content["config"])
        config["pulumi-gitops:defaultNamespace"] = namespace
        if in_cluster:
            config[IN_CLUSTER_KEY] = True
            give_own_names(root, project.reconciler_namespace)
        stack_file.write_text(yaml.safe_dump({**content, "config": config}, sort_keys=False))
        repo = git.Repo.init(root, initial_branch="main")
        with repo.config_writer() as git_config:
            git_config.set_value("user", "name", "E2E")
            git_config.set_value("user", "email", "e2e@example.com")
        project.backend_dir.mkdir()
        project.commit("service: first commit")
        init = project.pulumi("stack", "init", "local")
        assert init.returncode == 0, init.output
        return project

    @property
    def reconciler_namespace(self) -> str:
        """Where its reconciler runs when it runs in the cluster (create's in_cluster)."""
        return f"gitops-{self.namespace}"

    @property
    def repo(self) -> git.Repo:
        return git.Repo(self.root)

    def commit(self, message: str) -> str:
        repo = self.repo
        repo.git.add("--all", "--", ".")
        repo.git.commit("-m", message, "--allow-empty")
        return repo.head.commit.hexsha

    def write(self, relative: str, text: str) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.local_env)
        env.update(
            PULUMI_BACKEND_URL=f"file://{self.backend_dir}",
            PULUMI_CONFIG_PASSPHRASE="e2e-passphrase",
            PULUMI_SKIP_UPDATE_CHECK="true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
        )
        return env

    def pulumi(self, *args: str, timeout: float = 900) -> PulumiResult:
        done = subprocess.run(
            ["pulumi", "--non-interactive", "--color", "never", *args],
            cwd=self.root, env=self.env(), capture_output=True, text=True, timeout=timeout,
        )
        return PulumiResult(done.returncode, done.stdout + done.stderr)

    def up(self, *extra: str, stack: str = "local") -> PulumiResult:
        return self.pulumi("up", "--stack", stack, "--yes", "--skip-preview", *extra)

    def outputs(self, stack: str = "local") -> dict[str, Any]:
        result = self.pulumi("stack", "output", "--stack", stack, "--json", "--show-secrets")
        assert result.returncode == 0, result.output
        return json.loads(result.output[result.output.index("{"):])

    def kubectl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["kubectl", "--kubeconfig", self.local_env["KUBECONFIG"], *args],
            capture_output=True, text=True, timeout=120,
        )

    def destroy(self, stack: str = "local") -> PulumiResult:
        return self.pulumi("destroy", "--stack", stack, "--yes", "--skip-preview")

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        found = self.kubectl("get", kind, name, "--namespace", self.namespace, "--output", "json")
        if found.returncode != 0:
            assert "NotFound" in found.stderr, found.stderr
            return None
        return json.loads(found.stdout)
