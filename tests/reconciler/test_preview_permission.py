"""Who may have a pull request previewed, and what everyone else is told (a recording GitHub, no engine)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Optional

import pytest
from fake_github import serve_fake_github

from reconciler.service import pull_request_previews
from reconciler.service.preview_permission import comment_permission, pull_request_permission
from reconciler.service.pull_request_previews import PullRequestPreviews
from reconciler.settings import PreviewSettings, load_config
from reconciler.telemetry.redaction import Redactor
from reconciler_testing import tiny_stack, write_config

OWNER, REPO = "example", "web"
HEAD = "a" * 40


def pull_event(action: str = "opened", association: str = "CONTRIBUTOR", labels: tuple[str, ...] = (),
               head_repo: Optional[str] = f"{OWNER}/{REPO}", label: Optional[str] = None, head: str = HEAD,
               clone_url: str = "https://github.com/example/web.git") -> dict[str, Any]:
    event: dict[str, Any] = {
        "action": action,
        "number": 7,
        "pull_request": {
            "number": 7, "author_association": association, "labels": [{"name": name} for name in labels],
            "head": {"sha": head, "ref": "feature", "repo": {"full_name": head_repo} if head_repo else None},
            "base": {"sha": "b" * 40, "ref": "main", "repo": {"full_name": f"{OWNER}/{REPO}"}},
        },
        "repository": {"full_name": f"{OWNER}/{REPO}", "clone_url": clone_url},
    }
    if label is not None:
        event["label"] = {"name": label}
    return event


def comment_event(body: str = "/preview", association: str = "MEMBER", on_pull: bool = True, action: str = "created",
                  clone_url: str = "https://github.com/example/web.git") -> dict[str, Any]:
    issue: dict[str, Any] = {"number": 7, **({"pull_request": {"url": "https://api.github.com/x"}} if on_pull else {})}
    return {"action": action, "issue": issue, "comment": {"body": body, "author_association": association},
            "repository": {"full_name": f"{OWNER}/{REPO}", "clone_url": clone_url}}


DEFAULTS = PreviewSettings()


@pytest.mark.parametrize("association", ["OWNER", "MEMBER", "COLLABORATOR"])
def test_a_pull_request_by_a_member_is_previewed_on_each_new_commit(association):
    for action in ("opened", "synchronize", "reopened"):
        assert pull_request_permission(pull_event(action, association), DEFAULTS).allowed


@pytest.mark.parametrize("association", ["CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR", "FIRST_TIMER", "NONE", None])
def test_anyone_else_is_refused_and_told_how_to_ask(association):
    permission = pull_request_permission(pull_event("synchronize", association), DEFAULTS)

    assert not permission.allowed and permission.tell_author
    assert "`/preview`" in permission.reason and "`preview`" in permission.reason


def test_the_preview_label_lets_anyones_pull_request_be_previewed_and_other_labels_do_not():
    assert pull_request_permission(pull_event("synchronize", labels=("preview",)), DEFAULTS).allowed
    assert pull_request_permission(pull_event("labeled", labels=("preview",), label="preview"), DEFAULTS).allowed
    other = pull_request_permission(pull_event("labeled", "MEMBER", labels=("bug",), label="bug"), DEFAULTS)
    assert not other.allowed and not other.tell_author, "a label that is not ours brings nothing to preview"
    assert not pull_request_permission(pull_event("closed", "MEMBER"), DEFAULTS).allowed


def test_a_fork_is_refused_even_labeled_or_by_a_member_unless_the_config_opens_forks():
    for event in (pull_event(association="MEMBER", head_repo="stranger/web"),
                  pull_event(labels=("preview",), head_repo="stranger/web"),
                  pull_event(association="OWNER", head_repo=None)):
        permission = pull_request_permission(event, DEFAULTS)
        assert not permission.allowed and permission.tell_author and "fork" in permission.reason
        assert "`/preview`" in permission.reason and "label" not in permission.reason, "for a fork only the command helps"
    opened = PreviewSettings(forks=True)
    assert pull_request_permission(pull_event(association="MEMBER", head_repo="stranger/web"), opened).allowed
    assert not pull_request_permission(pull_event(head_repo="stranger/web"), opened).allowed


def test_the_config_chooses_the_trusted_associations_the_label_and_the_command():
    strict = PreviewSettings(trusted_associations=("OWNER",), label=None, command="/plan")

    assert not pull_request_permission(pull_event(association="MEMBER", labels=("preview",)), strict).allowed
    assert "no label" not in pull_request_permission(pull_event(), strict).reason
    assert comment_permission(comment_event("/plan", "OWNER"), strict).allowed
    assert not comment_permission(comment_event("/preview", "OWNER"), strict).allowed
    assert not comment_permission(comment_event("/plan", "MEMBER"), strict).allowed


def test_the_command_counts_only_from_a_member_in_a_new_comment_on_a_pull_request_as_its_first_line():
    assert comment_permission(comment_event("/preview"), DEFAULTS).allowed
    assert comment_permission(comment_event("  /preview please\nthanks"), DEFAULTS).allowed
    for event in (comment_event("/preview", "CONTRIBUTOR"), comment_event("/previewed"), comment_event("please /preview"),
                  comment_event("/preview", on_pull=False), comment_event("/preview", action="edited"), {"issue": 7}):
        assert not comment_permission(event, DEFAULTS).allowed


class Previews:
    """PullRequestPreviews on a recording GitHub, its previews recorded instead of run."""

    def __init__(self, tmp_path, remote, github, monkeypatch) -> None:
        monkeypatch.setenv("GITHUB_TOKEN", github.token)
        monkeypatch.setattr(pull_request_previews, "pulumi_command", lambda config: None)
        config = load_config(write_config(tmp_path / "reconciler.yaml",
                                          [tiny_stack(remote, tmp_path / "backend", secrets_passphrase=None)],
                                          github={"api_url": github.url}))
        self.previews = PullRequestPreviews(SimpleNamespace(config=config, redactor=Redactor()), workers=1)
        self.submitted: list[Any] = []
        monkeypatch.setattr(self.previews, "_submit", self.submitted.append)
        self.clone_url = str(remote.bare)

    def settle(self) -> None:
        self.previews._pool.submit(lambda: None).result(timeout=30)


@pytest.fixture
def previews(tmp_path, remote, monkeypatch):
    with serve_fake_github() as github:
        github.add_pull(OWNER, REPO, 7)
        yield Previews(tmp_path, remote, github, monkeypatch), github


def test_a_refused_pull_request_gets_one_comment_per_head_not_one_per_event(previews):
    service, github = previews
    event = pull_event("synchronize", clone_url=service.clone_url)

    answers = [service.previews.accept("pull_request", event) for _ in range(3)]
    service.settle()
    service.previews.accept("pull_request", pull_event("synchronize", head="c" * 40, clone_url=service.clone_url))
    service.settle()

    assert all(answer["previewing"] == [] and "CONTRIBUTOR" in answer["ignored"] for answer in answers)
    assert service.submitted == []
    [comment] = github.comments_on(OWNER, REPO, 7)
    assert "not previewed" in comment["body"] and "`/preview`" in comment["body"] and "`ccccccc`" in comment["body"]
    posts = [call for call in github.calls() if call[0] in ("POST", "PATCH")]
    assert posts == [("POST", f"/repos/{OWNER}/{REPO}/issues/7/comments"),
                     ("PATCH", f"/repos/{OWNER}/{REPO}/issues/comments/{comment['id']}")], "one comment, edited for the new head"


def test_a_members_command_previews_the_head_github_names_for_the_stacks_on_its_base_branch(previews):
    service, github = previews
    github.pull_details[(OWNER, REPO, 7)] = pull_event(head_repo="stranger/web")["pull_request"]

    answer = service.previews.accept("issue_comment", comment_event("/preview", "COLLABORATOR", clone_url=service.clone_url))
    service.settle()
    ignored = service.previews.accept("issue_comment", comment_event("/preview", "NONE", clone_url=service.clone_url))
    service.settle()

    assert answer["because"] == "a collaborator commented /preview" and "not one of" in ignored["ignored"]
    assert answer["previewing"] == [] and "example/web#7" in answer["pending"], "the stacks are known once GitHub answers"
    [request] = service.submitted
    assert (request.stack, request.head, request.pull.number) == ("tiny", HEAD, 7), "a fork's head, vouched for by the command"
    assert github.comments_on(OWNER, REPO, 7) == [], "the command is answered by the preview itself"


def test_a_member_pull_request_is_queued_for_every_stack_on_its_base_branch(previews):
    service, _ = previews

    answer = service.previews.accept("pull_request", pull_event("opened", "MEMBER", clone_url=service.clone_url))

    assert answer == {"previewing": ["tiny"], "because": "its author is a member"}
    assert [(r.stack, r.head, r.base) for r in service.submitted] == [("tiny", HEAD, "b" * 40)]
