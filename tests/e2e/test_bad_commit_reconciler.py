"""The reconciler's `once` (the service runs the same update) on a commit the cluster refuses: nothing applied.

Its `up` skips the preview, so before this the good object of the commit was
applied and the refused one failed. Now the program's dry-run refuses the
whole commit before anything is registered.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import testsupport.admission_policy as admission_policy

# --import-mode=importlib: the reconciler tests' helpers, and the one beside this file.
from testsupport.reconciler_cluster import PASSPHRASE_ENV, REGISTRY_PASSWORD_ENV, ClusterRepo, manifests
from testsupport.reconciler_testing import json_lines, run_cli, tools_environment, write_config

pytestmark = pytest.mark.e2e
NAME = "rec-bad-commit"
def checkpoint_resources(backend: Path) -> list[dict[str, Any]]:
    """The stack's resources from its checkpoint file, each secret as one marker: every write encrypts it anew."""
    (stack_file,) = backend.glob(".pulumi/stacks/**/local.json")
    return json.loads(stack_file.read_text(), object_hook=lambda o: "[secret]" if "ciphertext" in o else o)["checkpoint"]["latest"]["resources"]


@pytest.fixture(scope="module")
def service(local_env, tmp_path_factory):
    root = tmp_path_factory.mktemp("reconciler-bad-commit")
    repo = ClusterRepo(root, NAME, local_env)
    env = {**tools_environment(), **local_env, PASSPHRASE_ENV: "e2e-passphrase", REGISTRY_PASSWORD_ENV: "unused"}
    config = write_config(root / "reconciler.yaml", [repo.stack_entry()], state_dir=str(root / "state"), log_format="json")
    yield repo, config, env
    admission_policy.remove(local_env["KUBECONFIG"], NAME)
    repo.delete_namespace()


def once(config: Path, env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    result = run_cli("once", "--config", str(config), "--json", env=env, timeout=900)
    lines = json_lines(result.stdout)
    assert len(lines) == 1, result.stdout + result.stderr[-3000:]
    return result.returncode, lines[0]


def test_once_refuses_a_commit_the_admission_policy_refuses_and_applies_nothing(service, local_env):
    repo, config, env = service
    code, first = once(config, env)
    assert (code, first["result"]) == (0, "applied"), first
    admission_policy.install(local_env["KUBECONFIG"], NAME)  # the namespace exists now
    before = checkpoint_resources(repo.backend)
    files = manifests(NAME, greeting="must not be applied")
    files["manifests/flagged.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: flagged\n  labels: {forbidden: 'yes'}\n"
    repo.remote.commit("a good change and a ConfigMap the policy refuses", files)

    code, failed = once(config, env)

    assert code == 1 and failed["result"] == "failed", failed
    assert "manifests/flagged.yaml" in failed["error"] and admission_policy.REFUSAL in failed["error"]
    assert repo.greeting() == "hello from git"
    assert repo.get("configmap", "flagged") is None
    assert checkpoint_resources(repo.backend) == before
