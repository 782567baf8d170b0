"""The preview's throwaway checkouts and the preview command's argument errors, on real git repositories (no engine)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from reconciler.preview.workspace import PreviewWorkspace, RefNotFound
from testsupport.reconciler_testing import PROJECT_DIR, PYTHON, TINY_PROJECT, GitRemote, git, tiny_stack, write_config


@pytest.fixture
def remote_with_pull(remote: GitRemote) -> tuple[GitRemote, str, str]:
    """main at one commit, and a pull request head stored as GitHub stores it (refs/pull/7/head), on no branch."""
    main = remote.commit("first", TINY_PROJECT)
    head = remote.commit("pull request change", {"things.txt": "a\nb\nc\nd\n"}, push=False)
    git("push", "--quiet", str(remote.bare), "HEAD:refs/pull/7/head", cwd=remote.clone)
    return remote, main, head


def test_a_ref_resolves_to_its_commit_whether_a_branch_a_pull_request_ref_or_a_commit(tiny_spec, tmp_path, remote_with_pull):
    _, main, head = remote_with_pull
    workspace = PreviewWorkspace(tiny_spec, tmp_path / "state")

    assert workspace.resolve("main") == main
    assert workspace.resolve("refs/pull/7/head") == head
    assert workspace.resolve(head) == head, "a commit already fetched is found without asking the remote"
    with pytest.raises(RefNotFound, match="cannot fetch 'no-such-branch'"):
        workspace.resolve("no-such-branch")
    with pytest.raises(RefNotFound, match="is not a Git ref"):
        workspace.resolve("--upload-pack=touch /tmp/x")


def test_a_checkout_holds_exactly_the_commit_with_its_history_and_is_removed_afterwards(tiny_spec, tmp_path, remote_with_pull):
    _, main, head = remote_with_pull
    workspace = PreviewWorkspace(tiny_spec, tmp_path / "state")
    commit = workspace.resolve("refs/pull/7/head")

    with workspace.checkout(commit) as checkout:
        folder = checkout.repo_dir
        assert (checkout.project_path / "things.txt").read_text() == "a\nb\nc\nd\n"
        assert git("rev-parse", "HEAD", cwd=folder) == head
        assert git("log", "--format=%H", cwd=folder).split() == [head, main], "the full history, for image tags and labels"
        assert (checkout.project_path / ".venv").resolve() == tiny_spec.virtualenv.resolve()
        (checkout.project_path / "left-behind.txt").write_text("x")

    assert not folder.exists()
    assert not (tmp_path / "state" / "workspaces").exists(), "the stack's live workspace is never touched"


def test_a_clone_left_by_a_killed_preview_is_removed_by_a_later_one_and_a_recent_one_is_kept(tiny_spec, tmp_path, remote_with_pull):
    _, main, _ = remote_with_pull
    workspace = PreviewWorkspace(tiny_spec, tmp_path / "state")
    commit = workspace.resolve(main)
    abandoned, recent = workspace.root / "run-abandoned", workspace.root / "run-recent"
    for folder in (abandoned, recent):
        (folder / "checkout").mkdir(parents=True)
    old = time.time() - 7 * 3600
    os.utime(abandoned, (old, old))

    with workspace.checkout(commit):
        pass

    assert not abandoned.exists() and recent.exists()


def preview_cli(config: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "reconciler", "preview", "--config", str(config), *args],
                          cwd=PROJECT_DIR, env={**env, "PYTHONPATH": str(PROJECT_DIR)}, capture_output=True, text=True, timeout=120)


def test_bad_arguments_exit_2_with_a_message_naming_what_to_fix(tmp_path, remote_with_pull):
    remote, _, _ = remote_with_pull
    config = write_config(tmp_path / "reconciler.yaml", [tiny_stack(remote, tmp_path / "backend", secrets_passphrase=None)])
    env = {key: value for key, value in os.environ.items() if key not in ("GITHUB_TOKEN", "GITHUB_EVENT_PATH")}

    unknown_stack = preview_cli(config, "--stack", "nope", "--ref", "main", env=env)
    unknown_ref = preview_cli(config, "--stack", "tiny", "--ref", "feature/missing", env=env)
    no_token = preview_cli(config, "--stack", "tiny", "--ref", "main", "--post", "--pull-request", "example/web#7", env=env)
    no_pull = preview_cli(config, "--stack", "tiny", "--ref", "main", "--post", env={**env, "GITHUB_TOKEN": "t0ken-value"})
    bad_pull = preview_cli(config, "--stack", "tiny", "--ref", "main", "--post", "--pull-request", "web-7",
                           env={**env, "GITHUB_TOKEN": "t0ken-value"})
    bad_format = preview_cli(config, "--stack", "tiny", "--ref", "main", "--format", "html", env=env)

    assert [r.returncode for r in (unknown_stack, unknown_ref, no_token, no_pull, bad_pull, bad_format)] == [2] * 6
    assert "--stack nope: no such stack in the config; it has tiny" in unknown_stack.stderr
    assert "cannot fetch 'feature/missing'" in unknown_ref.stderr and str(remote.bare) in unknown_ref.stderr
    assert "$GITHUB_TOKEN is empty" in no_token.stderr
    assert "GITHUB_EVENT_PATH is not set" in no_pull.stderr
    assert "must be written OWNER/REPO#NUMBER" in bad_pull.stderr
    assert all(r.stdout == "" for r in (unknown_ref, no_token, no_pull, bad_pull)), "nothing is printed as if it were a preview"
