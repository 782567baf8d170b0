"""The pull request's one comment holds the preview and the review stack's state, whichever is posted first, across a restart."""

from __future__ import annotations

import os

import pytest

from reconciler.preview.pull_request import PullRequest
from reconciler.review.comment import SharedComments
from reconciler.review.record import FAILED, READY, ReviewStack
from reconciler.review.store import ReviewStackStore
from reconciler.settings import load_config
from testsupport.fake_github import serve_fake_github
from testsupport.reconciler_testing import tiny_stack, write_config

PULL = PullRequest("example", "web", 7)


@pytest.fixture
def github(monkeypatch):
    with serve_fake_github() as fake:
        fake.add_pull("example", "web", 7)
        monkeypatch.setenv("GITHUB_TOKEN", fake.token)
        yield fake


@pytest.fixture
def config(tmp_path, remote, github):
    stack = tiny_stack(remote, tmp_path / "backend", secrets_passphrase=None, review_stacks={"label": "preview-env"})
    return load_config(write_config(tmp_path / "reconciler.yaml", [stack], github={"api_url": github.url}))


def review_stack(config, status: str, message: str = "") -> ReviewStack:
    return ReviewStack(name="tiny-pr-7", base="tiny", repository="example/web", number=7, pulumi_stack="dev-pr-7",
                       namespace="tiny-pr-7", head="c" * 40, status=status, message=message, created_at=0.0,
                       expires_at=3 * 86400.0, updated_at=0.0, applied_commit="c" * 40)


def test_the_preview_and_the_review_stack_share_one_comment_and_a_restart_keeps_both(config, github):
    config.state_dir.mkdir(parents=True)
    store = ReviewStackStore(config.state_dir / "status.sqlite")
    comments = SharedComments(config, store, ())
    preview = "<!-- pulumi-gitops-preview stack=tiny -->\n\n### Pulumi preview for stack `tiny`\n"

    comments.post_preview("tiny", PULL, preview)
    record = review_stack(config, READY)
    record.preview_body = comments.preview_for("tiny", PULL)
    store.save(record)
    comments.post_review(record)
    store.close()

    restarted = ReviewStackStore(config.state_dir / "status.sqlite")
    [found] = restarted.all()
    found.status = FAILED
    found.message = f"the program failed\nwith {os.environ['GITHUB_TOKEN']} in its output"
    SharedComments(config, restarted, (github.token,)).post_review(found)

    [comment] = github.comments_on("example", "web", 7)
    body = comment["body"]
    assert body.startswith(preview.rstrip()), "the preview stays first, after a restart too"
    assert "### Review stack `dev-pr-7`: Failed" in body and "Namespace: `tiny-pr-7`" in body
    assert "the program failed" in body and github.token not in body
    assert len([r for r in github.requests if r.method == "POST"]) == 1, "one comment, edited in place"


def test_a_preview_posted_after_the_review_stack_keeps_its_state_below(config, github):
    config.state_dir.mkdir(parents=True)
    store = ReviewStackStore(config.state_dir / "status.sqlite")
    comments = SharedComments(config, store, ())
    store.save(review_stack(config, READY))

    comments.post_preview("tiny", PULL, "<!-- pulumi-gitops-preview stack=tiny -->\nsecond preview\n")

    [comment] = github.comments_on("example", "web", 7)
    assert comment["body"].index("second preview") < comment["body"].index("### Review stack `dev-pr-7`: Ready")
    assert store.get("tiny-pr-7").preview_body.endswith("second preview\n"), "kept for the review stack's next post"
