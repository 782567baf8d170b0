import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from testsupport.git_repos import commit_all, init_repo
from testsupport.kubeconfigs import LOCAL_KUBECONFIG

PROJECT_DIR = Path(__file__).resolve().parent.parent



@pytest.fixture
def project_repo(tmp_path: Path) -> Path:
    """A real Git repository holding a copy of this project's app and manifests, committed."""
    root = tmp_path / "service"
    shutil.copytree(PROJECT_DIR / "app", root / "app")
    shutil.copytree(PROJECT_DIR / "manifests", root / "manifests")
    repo = init_repo(root)
    commit_all(repo, "service at its first commit")
    return root


@pytest.fixture
def kubeconfig_file(tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(LOCAL_KUBECONFIG)
    return path


def _localenv(command: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "localenv", command],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=1800,
    )


@pytest.fixture(scope="session")
def local_env() -> dict[str, str]:
    """The local environment (Docker, registry, Kubernetes API), started once per test session.

    Returns the environment variables that point tools at it. It is stopped at
    the end only if this session started it. Never skipped silently: set
    GITOPS_SKIP_E2E=1 to opt out explicitly (CI does not).
    """
    if os.environ.get("GITOPS_SKIP_E2E") == "1":
        pytest.skip("GITOPS_SKIP_E2E=1: end-to-end tests opted out")
    for tool in ("pulumi", "pulumi-language-python", "kube-apiserver", "kwok"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not on PATH: run the tests with `make test` (it builds the tools and sources tools/env.sh)")

    env = dict(os.environ)
    env.setdefault("GITOPS_STATE_DIR", str(PROJECT_DIR / ".state"))
    was_running = _localenv("status", env).returncode == 0
    started = _localenv("up", env)
    if started.returncode != 0:
        pytest.fail(f"the local environment did not start:\n{started.stdout}\n{started.stderr}")
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in _localenv("env", env).stdout.splitlines()
    )
    exports = {name: shlex.split(value)[0] for name, value in exports.items()}
    exports["GITOPS_STATE_DIR"] = env["GITOPS_STATE_DIR"]
    yield exports
    if not was_running:
        _localenv("down", env)
