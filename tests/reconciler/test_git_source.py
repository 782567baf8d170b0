"""The source side on real repositories: ls-remote heads, clean checkouts, path filters, trailers, credentials over HTTP."""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from reconciler.settings import load_config
from reconciler.source.checkout import StackCheckout
from reconciler.source.git_command import GitError
from reconciler.source.remote_head import BranchMissingError, find_head
from testsupport.reconciler_testing import PROJECT_DIR, write_config

TOKEN = "ghp_test_token_that_must_stay_secret"


def spec_for(tmp_path: Path, url: str, **overrides):
    entry = tiny_stack_entry(url, tmp_path, **overrides)
    return load_config(write_config(tmp_path / "reconciler.yaml", [entry])).stacks[0]


def tiny_stack_entry(url: str, tmp_path: Path, **overrides) -> dict:
    entry = {"name": "web", "repo": {"url": url}, "branch": "main", "stack": "dev",
             "backend_url": f"file://{tmp_path / 'backend'}", "virtualenv": str(PROJECT_DIR / ".venv")}
    entry.update(overrides)
    return entry


@pytest.fixture
def project(remote):
    remote.commit("first", {"Pulumi.yaml": "name: p\nruntime:\n  name: python\n  options:\n    virtualenv: .venv\n",
                            "manifests/a.yaml": "a: 1\n", "README.md": "hi\n"})
    return remote


def test_the_head_is_read_with_ls_remote_and_follows_pushes(project, tmp_path):
    spec = spec_for(tmp_path, str(project.bare))
    first = find_head(spec)

    second = project.commit("second", {"README.md": "changed\n"})

    assert first != second and find_head(spec) == second


def test_a_deleted_branch_and_an_unreachable_remote_are_told_apart(project, tmp_path):
    spec = spec_for(tmp_path, str(project.bare))
    project.delete_branch()
    with pytest.raises(BranchMissingError, match="branch 'main' does not exist on the remote"):
        find_head(spec)

    os.rename(project.bare, tmp_path / "moved.git")
    with pytest.raises(GitError) as raised:
        find_head(spec)
    assert raised.value.unreachable


def test_a_checkout_is_exactly_the_commit_clean_with_the_virtualenv_linked(project, tmp_path):
    spec = spec_for(tmp_path, str(project.bare))
    checkout = StackCheckout(spec, tmp_path / "workspace")
    first = find_head(spec)
    checkout.fetch(first)
    path = checkout.check_out(first)
    (path / "leftover.txt").write_text("from an earlier run")
    (path / "manifests" / "a.yaml").write_text("edited: locally\n")

    second = project.commit("second", {"manifests/b.yaml": "b: 2\n"})
    checkout.fetch(second)
    checkout.check_out(second)

    assert sorted(p.name for p in (path / "manifests").iterdir()) == ["a.yaml", "b.yaml"]
    assert (path / "manifests" / "a.yaml").read_text() == "a: 1\n"
    assert not (path / "leftover.txt").exists()
    assert (path / ".venv").resolve() == (PROJECT_DIR / ".venv").resolve()
    status = subprocess.run(["git", "status", "--porcelain"], cwd=path, capture_output=True, text=True).stdout
    assert status == "", "the linked virtualenv is excluded, nothing else differs"


def test_a_force_push_to_an_older_commit_is_checked_out(project, tmp_path):
    spec = spec_for(tmp_path, str(project.bare))
    checkout = StackCheckout(spec, tmp_path / "workspace")
    old = find_head(spec)
    new = project.commit("to be undone", {"README.md": "undone\n"})
    checkout.fetch(new)
    checkout.check_out(new)

    project.reset_and_force_push(old)
    head = find_head(spec)
    checkout.fetch(head)
    path = checkout.check_out(head)

    assert head == old and (path / "README.md").read_text() == "hi\n"


def test_path_filters_compare_against_the_last_applied_commit(project, tmp_path):
    spec = spec_for(tmp_path, str(project.bare))
    checkout = StackCheckout(spec, tmp_path / "workspace")
    applied = find_head(spec)
    docs = project.commit("docs only", {"README.md": "more docs\n"})
    manifests = project.commit("a manifest", {"manifests/a.yaml": "a: 2\n"})
    checkout.fetch(manifests)

    assert not checkout.touches(applied, docs, ("manifests/", "app/"))
    assert checkout.touches(applied, manifests, ("manifests/", "app/"))
    assert checkout.touches("0" * 40, docs, ("manifests/",)), "an unknown last commit counts as changed"


def test_allow_deletes_trailers_since_the_last_applied_commit(project, tmp_path):
    spec = spec_for(tmp_path, str(project.bare))
    checkout = StackCheckout(spec, tmp_path / "workspace")
    applied = find_head(spec)
    project.commit("drop things\n\nAllow-Deletes: 2")
    project.commit("unrelated\n\nAllow-Deletes: nonsense")
    head = project.commit("more")
    checkout.fetch(head)

    assert checkout.allowed_deletes(applied, head) == 2
    assert checkout.allowed_deletes(head, head) is None
    assert checkout.allowed_deletes(None, head) is None, "without a last commit only the head's own message counts"


class GitHttpServer:
    """git's own smart-HTTP server (git http-backend as CGI) behind Basic auth on 127.0.0.1."""

    def __init__(self, project_root: Path, token: str) -> None:
        expected = "Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()
        self.seen_authorization: list[str] = []
        seen = self.seen_authorization

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _cgi(self) -> None:
                authorization = self.headers.get("Authorization", "")
                seen.append(authorization)
                if authorization != expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                path, _, query = self.path.partition("?")
                length = int(self.headers.get("Content-Length") or 0)
                env = {**os.environ, "GIT_PROJECT_ROOT": str(project_root), "GIT_HTTP_EXPORT_ALL": "1",
                       "PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": self.command,
                       "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(length),
                       "REMOTE_USER": "x-access-token", "GIT_PROTOCOL": self.headers.get("Git-Protocol", "")}
                body = self.rfile.read(length) if length else b""
                output = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
                head, _, payload = output.partition(b"\r\n\r\n")
                status = 200
                headers = []
                for line in head.decode().split("\r\n"):
                    name, _, value = line.partition(": ")
                    if name.lower() == "status":
                        status = int(value.split()[0])
                    elif name:
                        headers.append((name, value))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _cgi

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, repo: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{repo}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_https_credentials_reach_git_through_its_environment_never_the_url(project, tmp_path, monkeypatch):
    server = GitHttpServer(project.bare.parent, TOKEN)
    try:
        monkeypatch.setenv("RECONCILER_GIT_TOKEN", TOKEN)
        spec = spec_for(tmp_path, server.url("remote.git"),
                        repo={"url": server.url("remote.git"), "credentials": {"password": {"env": "RECONCILER_GIT_TOKEN"}}})
        checkout = StackCheckout(spec, tmp_path / "workspace")

        head = find_head(spec)
        checkout.fetch(head)
        checkout.check_out(head)

        assert head == project.head()
        assert TOKEN not in spec.repo_url and TOKEN not in repr(spec)
        remote_config = subprocess.run(["git", "config", "--list"], cwd=checkout.repo_dir, capture_output=True, text=True).stdout
        assert TOKEN not in remote_config, "nothing about the credentials is written into the checkout"

        monkeypatch.setenv("RECONCILER_GIT_TOKEN", "wrong-token-value")
        wrong = spec_for(tmp_path, server.url("remote.git"),
                         repo={"url": server.url("remote.git"), "credentials": {"password": {"env": "RECONCILER_GIT_TOKEN"}}})
        with pytest.raises(GitError) as refused:
            find_head(wrong)
        assert "wrong-token-value" not in str(refused.value) and TOKEN not in str(refused.value)
        assert refused.value.unreachable
    finally:
        server.close()
    assert any(value.startswith("Basic ") for value in server.seen_authorization)
