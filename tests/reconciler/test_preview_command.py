"""`python -m reconciler preview` on a real repository, with a CLI that answers like pulumi and a recording GitHub.

The engine is the fake CLI (fake_pulumi_cli.py: one update and one delete, or a failing program when the
commit holds fail.txt); Git, the throwaway checkout, the rendering and the GitHub comment API are real.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from reconciler.preview.command import (
    EXIT_BAD_ARGUMENTS,
    EXIT_FAILED,
    EXIT_PREVIEWED,
    preview,
)
from reconciler.settings import load_config
from testsupport import fake_pulumi_cli
from testsupport.fake_github import serve_fake_github
from testsupport.fake_pulumi_cli import write_stack_state
from testsupport.reconciler_testing import TINY_PROJECT, tiny_stack, write_config
from testsupport.stub_pulumi import StubPulumi

FAKE_CLI = Path(fake_pulumi_cli.__file__)
OWNER, REPO, NUMBER = "example", "web", 7


class Scenario:
    def __init__(self, tmp_path: Path, remote, github_url: str = "http://127.0.0.1:9") -> None:
        self.stub = StubPulumi(tmp_path / "cli")
        self.stub.behave(f'exec "{sys.executable}" "{FAKE_CLI}" "{self.stub.root}" "$@"\n')
        self.remote = remote
        self.head = remote.commit("the tiny project", TINY_PROJECT)
        self.backend = tmp_path / "backend"
        # The stand-in CLI reads its behaviour beside its bin/, which a preview's user gets only when named.
        stack = tiny_stack(remote, self.backend, secrets_passphrase=None, preview_files=[str(self.stub.root)])
        self.config_path = write_config(
            tmp_path / "reconciler.yaml", [stack], pulumi=str(self.stub.command), github={"api_url": github_url},
        )

    def stack_exists(self) -> None:
        write_stack_state(self.backend, "tiny", "dev", salt="v1:s")

    def preview(self, ref: str, output_format: str = "json", post: bool = False, pull_request: str | None = None,
                base: str | None = None) -> tuple[int, str]:
        out = io.StringIO()
        code = preview(load_config(self.config_path), "tiny", ref, base, output_format, post, pull_request, out=out)
        return code, out.getvalue()

    def backend_files(self) -> dict[str, bytes]:
        return {str(path): path.read_bytes() for path in sorted(self.backend.rglob("*")) if path.is_file()}


@pytest.fixture
def scenario(tmp_path, remote) -> Scenario:
    return Scenario(tmp_path, remote)


def test_a_preview_reports_the_changes_and_writes_nothing(scenario):
    scenario.stack_exists()
    before = scenario.backend_files()
    code, out = scenario.preview("main", base=scenario.head)
    assert code == EXIT_PREVIEWED
    summary = json.loads(out)
    assert (summary["stack"], summary["commit"], summary["base"]) == ("tiny", scenario.head, scenario.head)
    assert summary["result"] == "previewed"
    assert (summary["changes"]["update"], summary["changes"]["delete"]) == (1, 1)
    assert summary["destructive"] == ["urn:pulumi:dev::tiny::kubernetes:apps/v1:Deployment::old"]
    assert scenario.backend_files() == before


def test_a_markdown_preview_flags_the_deletion(scenario):
    scenario.stack_exists()
    code, out = scenario.preview(scenario.head, output_format="markdown")
    assert code == EXIT_PREVIEWED
    assert "tiny" in out and scenario.head[:7] in out
    assert "old" in out and "delete" in out.lower()


def test_a_stack_without_state_cannot_be_previewed_yet(scenario):
    code, out = scenario.preview("main")
    assert code == EXIT_FAILED
    summary = json.loads(out)
    assert summary["result"] == "failed" and "does not exist" in summary["error"]


def test_a_failing_program_fails_the_preview_with_its_words(scenario, remote):
    scenario.stack_exists()
    broken = remote.commit("break it", {"fail.txt": "manifests/web.yaml: Deployment web: bad image\n"})
    code, out = scenario.preview(broken)
    assert code == EXIT_FAILED
    assert "bad image" in out


def test_an_unknown_ref_is_a_bad_argument(scenario, capsys):
    assert scenario.preview("no-such-branch")[0] == EXIT_BAD_ARGUMENTS
    assert "no-such-branch" in capsys.readouterr().err
    assert scenario.preview("--upload-pack=x")[0] == EXIT_BAD_ARGUMENTS


def test_post_needs_a_pull_request_and_a_token(scenario, monkeypatch, capsys):
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_sometoken")
    assert scenario.preview("main", post=True, pull_request="example/web")[0] == EXIT_BAD_ARGUMENTS
    assert "OWNER/REPO#NUMBER" in capsys.readouterr().err
    monkeypatch.setenv("GITHUB_TOKEN", "")
    assert scenario.preview("main", post=True, pull_request="example/web#7")[0] == EXIT_BAD_ARGUMENTS
    assert "$GITHUB_TOKEN is empty" in capsys.readouterr().err


def test_post_keeps_one_comment_on_the_pull_request(tmp_path, remote, monkeypatch, capsys):
    with serve_fake_github() as github:
        github.add_pull(OWNER, REPO, NUMBER)
        monkeypatch.setenv("GITHUB_TOKEN", github.token)
        scenario = Scenario(tmp_path, remote, github.url)
        scenario.stack_exists()
        assert scenario.preview("main", post=True, pull_request=f"{OWNER}/{REPO}#{NUMBER}")[0] == EXIT_PREVIEWED
        assert "created" in capsys.readouterr().err
        assert scenario.preview("main", post=True, pull_request=f"{OWNER}/{REPO}#{NUMBER}")[0] == EXIT_PREVIEWED
        assert "updated" in capsys.readouterr().err
        comments = github.comments_on(OWNER, REPO, NUMBER)
        assert len(comments) == 1
        assert github.token not in comments[0]["body"]


def test_a_refused_comment_fails_the_command(tmp_path, remote, monkeypatch, capsys):
    with serve_fake_github() as github:
        monkeypatch.setenv("GITHUB_TOKEN", github.token)
        scenario = Scenario(tmp_path, remote, github.url)
        scenario.stack_exists()
        # Pull request 8 does not exist on the fake GitHub: it answers 404.
        assert scenario.preview("main", post=True, pull_request=f"{OWNER}/{REPO}#8")[0] == EXIT_FAILED
        err = capsys.readouterr().err
        assert f"{OWNER}/{REPO}#8 failed" in err and github.token not in err
