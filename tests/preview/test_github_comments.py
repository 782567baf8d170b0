"""Posting against a local HTTP server that implements the issue-comment endpoints and records every request."""

from __future__ import annotations

import json
import socket
import traceback

import pytest

from reconciler.preview.comment_marker import comment_marker
from reconciler.preview.github_comments import GitHubCommentError, publish_comment
from reconciler.preview.markdown import render_markdown
from reconciler.preview.pull_request import PullRequest, pull_request_from_actions_env
from reconciler.preview.summary import PreviewSummary
from reconciler.status.model import ChangeCounts

PULL = PullRequest("octo", "service", 7)
COMMIT = "3f1c9a7e5b2d4c6a8e0f1b3d5a7c9e1f2b4d6a8c"


def body_for(stack: str, updates: int = 1) -> str:
    return render_markdown(PreviewSummary(stack, COMMIT, ChangeCounts(update=updates, same=3)))


def publish(github, stack: str, body: str, **options):
    return publish_comment(PULL, stack, body, api_url=github.url, **options)


def test_creates_the_comment_when_there_is_none(fake_github):
    fake_github.add_pull("octo", "service", 7)
    body = body_for("dev")

    published = publish(fake_github, "dev", body)

    assert fake_github.calls() == [
        ("GET", "/user"),
        ("GET", "/repos/octo/service/issues/7/comments"),
        ("POST", "/repos/octo/service/issues/7/comments"),
    ]
    assert fake_github.requests[1].query == {"per_page": "100", "page": "1"}
    assert fake_github.requests[2].body == {"body": body}
    assert published.created and published.id == fake_github.comments[0]["id"]
    assert published.url.endswith(f"#issuecomment-{published.id}")
    assert [c["body"] for c in fake_github.comments_on("octo", "service", 7)] == [body]


def test_a_second_post_edits_the_same_comment(fake_github):
    fake_github.add_pull("octo", "service", 7)
    first = publish(fake_github, "dev", body_for("dev", updates=1))
    fake_github.requests.clear()

    second = publish(fake_github, "dev", body_for("dev", updates=2))

    assert fake_github.calls() == [
        ("GET", "/user"),
        ("GET", "/repos/octo/service/issues/7/comments"),
        ("PATCH", f"/repos/octo/service/issues/comments/{first.id}"),
    ]
    assert fake_github.requests[2].body == {"body": body_for("dev", updates=2)}
    assert second.id == first.id and not second.created
    (comment,) = fake_github.comments_on("octo", "service", 7)
    assert "2 to update" in comment["body"]


def test_each_stack_has_its_own_comment(fake_github):
    fake_github.add_pull("octo", "service", 7)
    dev = publish(fake_github, "dev", body_for("dev"))
    prod = publish(fake_github, "prod", body_for("prod"))
    # A stack whose name starts with another's is still another stack.
    dev_eu = publish(fake_github, "dev-eu", body_for("dev-eu"))

    again = publish(fake_github, "dev", body_for("dev", updates=5))

    assert len({dev.id, prod.id, dev_eu.id}) == 3
    assert again.id == dev.id
    bodies = {c["id"]: c["body"] for c in fake_github.comments_on("octo", "service", 7)}
    assert bodies[dev.id] == body_for("dev", updates=5)
    assert bodies[prod.id] == body_for("prod")
    assert bodies[dev_eu.id] == body_for("dev-eu")


def test_finds_the_comment_on_the_second_page(fake_github):
    fake_github.add_pull("octo", "service", 7)
    for i in range(130):
        fake_github.add_comment("octo", "service", 7, f"LGTM {i}")
    existing = fake_github.add_comment("octo", "service", 7, body_for("dev"))

    published = publish(fake_github, "dev", body_for("dev", updates=3))

    assert fake_github.calls() == [
        ("GET", "/user"),
        ("GET", "/repos/octo/service/issues/7/comments"),
        ("GET", "/repos/octo/service/issues/7/comments"),
        ("PATCH", f"/repos/octo/service/issues/comments/{existing}"),
    ]
    assert [r.query for r in fake_github.requests[1:3]] == [{"per_page": "100", "page": "1"}, {"per_page": "100", "page": "2"}]
    assert published.id == existing and not published.created
    assert len(fake_github.comments_on("octo", "service", 7)) == 131


def test_a_comment_that_only_quotes_the_marker_is_not_taken(fake_github):
    fake_github.add_pull("octo", "service", 7)
    quoting = fake_github.add_comment("octo", "service", 7, "> " + body_for("dev"))

    published = publish(fake_github, "dev", body_for("dev"))

    assert published.created and published.id != quoting


def test_a_look_alike_with_the_marker_from_someone_else_is_ignored(fake_github):
    fake_github.add_pull("octo", "service", 7)
    look_alike = fake_github.add_comment("octo", "service", 7, body_for("dev") + "\n[click here](https://evil.example)", author="mallory")

    created = publish(fake_github, "dev", body_for("dev"))
    edited = publish(fake_github, "dev", body_for("dev", updates=4))

    assert created.created and created.id != look_alike
    assert not edited.created and edited.id == created.id
    comments = {c["id"]: c for c in fake_github.comments_on("octo", "service", 7)}
    assert "evil.example" in comments[look_alike]["body"] and comments[look_alike]["author"] == "mallory"
    assert comments[created.id]["author"] == fake_github.login and "4 to update" in comments[created.id]["body"]
    assert fake_github.edited_foreign == []


def test_our_older_comment_is_found_behind_a_look_alike_and_logins_compare_without_case(fake_github):
    fake_github.add_pull("octo", "service", 7)
    fake_github.add_comment("octo", "service", 7, body_for("dev"), author="mallory")
    ours = fake_github.add_comment("octo", "service", 7, body_for("dev"), author="Preview-Bot")

    published = publish(fake_github, "dev", body_for("dev", updates=2))

    assert published.id == ours and not published.created
    assert fake_github.edited_foreign == []


def test_an_app_installation_token_needs_its_bot_login(fake_github, monkeypatch):
    fake_github.add_pull("octo", "service", 7)
    fake_github.installation_token = True
    fake_github.login = "preview-app[bot]"
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    ours = fake_github.add_comment("octo", "service", 7, body_for("dev"))

    with pytest.raises(GitHubCommentError, match=r"GET /user: 403.*`<app-slug>\[bot\]`"):
        publish(fake_github, "dev", body_for("dev"))
    assert fake_github.calls() == [("GET", "/user")], "nothing is posted without knowing which comments are ours"

    published = publish(fake_github, "dev", body_for("dev", updates=3), author="preview-app[bot]")

    assert published.id == ours and not published.created


def test_in_github_actions_an_installation_token_is_the_actions_bot(fake_github, monkeypatch):
    fake_github.add_pull("octo", "service", 7)
    fake_github.installation_token = True
    fake_github.login = "github-actions[bot]"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    fake_github.add_comment("octo", "service", 7, body_for("dev"), author="someone")
    ours = fake_github.add_comment("octo", "service", 7, body_for("dev"))

    published = publish(fake_github, "dev", body_for("dev", updates=3))

    assert published.id == ours and not published.created


def test_every_request_carries_the_token_as_a_bearer_and_the_api_version(fake_github):
    fake_github.add_pull("octo", "service", 7)
    publish(fake_github, "dev", body_for("dev"))
    publish(fake_github, "dev", body_for("dev"))

    assert len(fake_github.requests) == 6
    for request in fake_github.requests:
        assert request.headers["authorization"] == f"Bearer {fake_github.token}"
        assert request.headers["accept"] == "application/vnd.github+json"
        assert request.headers["x-github-api-version"] == "2022-11-28"
        assert request.headers["user-agent"]


def test_the_token_env_var_name_is_configurable(fake_github, monkeypatch):
    fake_github.add_pull("octo", "service", 7)
    monkeypatch.delenv("GITHUB_TOKEN")
    monkeypatch.setenv("PREVIEW_BOT_TOKEN", fake_github.token)

    published = publish(fake_github, "dev", body_for("dev"), token_env="PREVIEW_BOT_TOKEN")

    assert published.created


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (401, {}, ["rejected the token in $GITHUB_TOKEN (401)", "set $GITHUB_TOKEN to a valid"]),
        (403, {}, ["(403)", "permissions: pull-requests: write"]),
        (403, {"X-RateLimit-Remaining": "0"}, ["rate limit", "again later"]),
        (404, {}, ["was not found (404)", "check the repository name and the pull request number"]),
        (422, {}, ["refused the comment", "(422)", "body is too long"]),
    ],
)
def test_refusals_name_the_pull_request_and_what_to_do_and_never_the_token(fake_github, status, headers, expected):
    fake_github.add_pull("octo", "service", 7)
    # GitHub's message is repeated to the user; even if it held the token, the token is not.
    message = {"message": f"refused for {fake_github.token}", "errors": [{"message": "body is too long"}]}
    fake_github.failure = (status, message, headers)

    with pytest.raises(GitHubCommentError) as raised:
        publish(fake_github, "dev", body_for("dev"), author=fake_github.login)

    text = str(raised.value)
    assert "octo/service pull request #7" in text
    for phrase in expected:
        assert phrase in text
    assert raised.value.status == status
    everything = "".join(traceback.format_exception(raised.value)) + repr(raised.value)
    assert fake_github.token not in everything
    assert "[token]" in text


def test_a_missing_token_is_named_and_nothing_is_sent(fake_github, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN")

    with pytest.raises(GitHubCommentError, match=r"\$GITHUB_TOKEN is not set.*octo/service pull request #7"):
        publish(fake_github, "dev", body_for("dev"))

    assert fake_github.requests == []


def test_a_body_without_the_stack_marker_is_refused_before_sending(fake_github):
    fake_github.add_pull("octo", "service", 7)

    with pytest.raises(ValueError, match="must start with <!-- pulumi-gitops-preview stack=prod -->"):
        publish(fake_github, "prod", body_for("dev"))

    assert fake_github.requests == []


def test_the_token_is_never_sent_to_another_host_by_a_next_link(fake_github):
    fake_github.add_pull("octo", "service", 7)
    for i in range(101):
        fake_github.add_comment("octo", "service", 7, f"comment {i}")
    fake_github.next_link_host = "http://127.0.0.2:9"

    with pytest.raises(GitHubCommentError, match="refusing to send the token there"):
        publish(fake_github, "dev", body_for("dev"))

    assert fake_github.calls() == [("GET", "/user"), ("GET", "/repos/octo/service/issues/7/comments")]


def test_an_unreachable_api_is_named(monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_unreachable_token")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]

    with pytest.raises(GitHubCommentError, match=rf"could not reach the GitHub API at http://127.0.0.1:{closed_port}") as raised:
        publish_comment(PULL, "dev", body_for("dev"), api_url=f"http://127.0.0.1:{closed_port}", timeout=5)

    assert "ghs_unreachable_token" not in str(raised.value)


def test_marker_refuses_names_that_could_break_it():
    assert comment_marker("org/project/dev") == "<!-- pulumi-gitops-preview stack=org/project/dev -->"
    for bad in ("dev -->", "", "dev prod", "-dev"):
        with pytest.raises(ValueError, match="cannot go in a preview comment marker"):
            comment_marker(bad)


def test_pull_request_from_the_actions_event_file(tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "synchronize", "number": 7, "pull_request": {"number": 7}, "repository": {"full_name": "octo/service"}}))

    assert pull_request_from_actions_env({"GITHUB_EVENT_PATH": str(event)}) == PULL

    event.write_text(json.dumps({"ref": "refs/heads/main", "repository": {"full_name": "octo/service"}}))
    with pytest.raises(ValueError, match="run the preview on `pull_request` events only"):
        pull_request_from_actions_env({"GITHUB_EVENT_PATH": str(event)})


def test_pull_request_refuses_names_that_would_change_the_api_path():
    for owner, repo, number in (("octo", "../admin", 7), ("octo/x", "service", 7), ("octo", "service", 0)):
        with pytest.raises(ValueError):
            PullRequest(owner, repo, number)
