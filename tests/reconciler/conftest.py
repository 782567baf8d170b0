"""Fixtures of the reconciler tests; the helpers they use live in reconciler_testing.py."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from testsupport.lease_namespaces import lease_namespace
from testsupport.reconciler_testing import PROJECT_DIR, GitRemote, ServiceProcess, tools_environment


@pytest.fixture
def remote(tmp_path: Path) -> GitRemote:
    return GitRemote(tmp_path)


@pytest.fixture(scope="session")
def engine_env() -> dict[str, str]:
    """The environment the reconciler runs in: the pinned tools on PATH. Fails (never skips silently) without them."""
    if os.environ.get("GITOPS_SKIP_E2E") == "1":
        pytest.skip("GITOPS_SKIP_E2E=1: tests of the real engine opted out")
    env = tools_environment()
    if shutil.which("pulumi", path=env["PATH"]) is None:
        pytest.fail("the pulumi CLI is not built: run `make tools` (tools/env.sh puts it on PATH)")
    env["PYTHONPATH"] = str(PROJECT_DIR)
    env["TINY_PASSPHRASE"] = "tiny-test-passphrase"
    env.pop("PULUMI_CONFIG_PASSPHRASE", None)
    env.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
    return env


@pytest.fixture
def kubeconfig(local_env) -> Path:
    """The local API server's kubeconfig (Lease tests)."""
    return Path(local_env["KUBECONFIG"])


@pytest.fixture
def namespace(kubeconfig: Path):
    """A namespace of its own for a Lease test, deleted afterwards."""
    with lease_namespace(kubeconfig) as name:
        yield name


@pytest.fixture
def start_service(tmp_path: Path):
    started: list[ServiceProcess] = []

    def start(config: Path, env: dict[str, str], port: int) -> ServiceProcess:
        service = ServiceProcess(config, env, tmp_path / f"service-{len(started)}.log", port)
        started.append(service)
        return service

    yield start
    for service in started:
        if service.process.poll() is None:
            service.stop()


@pytest.fixture
def tiny_spec(tmp_path: Path, remote: GitRemote):
    """A validated StackSpec for a local remote, as load_config builds it."""
    from reconciler.settings import load_config
    from testsupport.reconciler_testing import tiny_stack, write_config

    return load_config(write_config(tmp_path / "reconciler.yaml", [tiny_stack(remote, tmp_path / "backend", secrets_passphrase=None)])).stacks[0]
