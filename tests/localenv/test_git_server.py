"""The read-only Git host the reconciler's pods fetch from: a real `git http-backend` behind the server,
serving repositories by the names they are linked under; fetches work, pushes are refused."""

import dataclasses
import subprocess

import pytest

from localenv import git_server
from localenv.service import ensure_running, stop
from localenv.settings import Port, load
from testsupport.git_repos import commit_all, init_repo
from testsupport.reconciler_testing import free_port


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("GITOPS_STATE_DIR", str(tmp_path / "state"))
    settings = dataclasses.replace(load(), git_port=Port(free_port(), "LOCALENV_GIT_PORT"))
    yield settings
    stop(git_server.service(settings), settings)


def git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], capture_output=True, text=True, timeout=60)


def test_a_linked_repository_is_fetched_by_its_name_and_a_push_is_refused(settings, tmp_path):
    source = tmp_path / "service"
    (source / "manifests").mkdir(parents=True)
    (source / "manifests" / "app.yaml").write_text("kind: ConfigMap\n")
    repo = init_repo(source)
    head = commit_all(repo, "first")
    assert ensure_running(git_server.service(settings), settings) == "started"

    url = git_server.serve_repository(settings, "service", source)
    clone = git("clone", "--quiet", url, str(tmp_path / "clone"))
    pushed = git("-C", str(tmp_path / "clone"), "push", "origin", "HEAD:refs/heads/pushed")

    assert url == f"http://127.0.0.1:{settings.git_port.number}/service"
    assert clone.returncode == 0, clone.stderr
    assert git("-C", str(tmp_path / "clone"), "rev-parse", "HEAD").stdout.strip() == head
    assert (tmp_path / "clone" / "manifests" / "app.yaml").read_text() == "kind: ConfigMap\n"
    assert pushed.returncode != 0 and "403" in pushed.stderr
    assert "pushed" not in git("-C", str(source), "branch", "--list").stdout


def test_a_withdrawn_or_unknown_name_is_not_found(settings, tmp_path):
    source = tmp_path / "service"
    source.mkdir()
    commit_all(init_repo(source), "first")
    ensure_running(git_server.service(settings), settings)
    url = git_server.serve_repository(settings, "service", source)

    git_server.withdraw_repository(settings, "service")
    gone = git("ls-remote", url)
    unknown = git("ls-remote", f"http://127.0.0.1:{settings.git_port.number}/nothing-here")

    assert gone.returncode != 0 and "not found" in gone.stderr
    assert unknown.returncode != 0 and "not found" in unknown.stderr
