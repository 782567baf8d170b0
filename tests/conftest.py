import shutil
import sys
from pathlib import Path

import git
import pytest

TESTS_DIR = Path(__file__).resolve().parent
PROJECT_DIR = TESTS_DIR.parent
for path in (PROJECT_DIR, TESTS_DIR):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

LOCAL_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "https://127.0.0.1:16443", certificate-authority-data: Q0E=}
contexts:
- name: gitops-local
  context: {cluster: local, user: admin}
current-context: gitops-local
users:
- name: admin
  user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZ}
"""


def init_repo(path: Path) -> git.Repo:
    repo = git.Repo.init(path, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Test")
        config.set_value("user", "email", "test@example.com")
        config.set_value("commit", "gpgsign", "false")
    return repo


def commit_all(repo: git.Repo, message: str) -> str:
    repo.git.add("--all")
    repo.git.commit("-m", message, "--allow-empty")
    return repo.head.commit.hexsha


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
