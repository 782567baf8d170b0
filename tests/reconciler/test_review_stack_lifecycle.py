"""When a pull request's review stack is applied, destroyed, expired or left alone: the decisions, without an engine."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pytest

from reconciler.review.lifecycle import Action, PullRequestState, decide, decide_without_pull
from reconciler.review.naming import review_namespace, review_stack_name, review_target
from reconciler.review.record import EXPIRED, FAILED, READY, ReviewStack
from reconciler.settings import PreviewSettings, ReviewStackSettings

LABEL = "preview-env"
SETTINGS = ReviewStackSettings(label=LABEL, ttl_s=72 * 3600, namespace_config="pulumi-gitops:reviewNamespace", url_output="url")
PREVIEWS = PreviewSettings()
NOW = 1_000_000.0
HEAD, NEWER = "a" * 40, "b" * 40


def pull(action: str = "synchronize", head: str = HEAD, labels: tuple[str, ...] = (LABEL,), state: str = "open",
         merged: bool = False, fork: bool = False, label: Optional[str] = None) -> PullRequestState:
    payload = {"state": state, "merged": merged, "labels": [{"name": name} for name in labels],
               "head": {"sha": head, "repo": {"full_name": "someone/fork" if fork else "example/web"}}}
    return PullRequestState.from_payload(payload, action, "example/web", label)


def record(status: str = READY, applied: Optional[str] = HEAD, head: str = HEAD, expires_at: float = NOW + 3600) -> ReviewStack:
    return ReviewStack(name="web-pr-7", base="web", repository="example/web", number=7, pulumi_stack="local-pr-7",
                       namespace="web-pr-7", head=head, status=status, message="", created_at=NOW - 3600,
                       expires_at=expires_at, updated_at=NOW - 60, applied_commit=applied)


@pytest.mark.parametrize("action", ["labeled", "opened", "synchronize", "reopened", "poll"])
def test_an_open_labelled_pull_request_without_a_review_stack_gets_one(action):
    assert decide(pull(action, label=LABEL), SETTINGS, PREVIEWS, None, NOW).action is Action.APPLY


@pytest.mark.parametrize(("state", "why"), [
    (pull(labels=()), "does not carry the label 'preview-env'"),
    (pull(labels=("preview",)), "does not carry the label 'preview-env'"),
    (pull("closed", state="closed"), "closed"),
    (pull("closed", state="closed", merged=True), "merged"),
    (pull(fork=True), "fork"),
])
def test_no_review_stack_for_a_pull_request_that_is_unlabelled_closed_or_from_a_fork(state, why):
    decision = decide(state, SETTINGS, PREVIEWS, None, NOW)

    assert decision.action is Action.NOTHING and why in decision.reason


def test_a_fork_gets_one_when_the_config_lets_forks_be_previewed():
    assert decide(pull(fork=True), SETTINGS, PreviewSettings(forks=True), None, NOW).action is Action.APPLY


@pytest.mark.parametrize(("state", "why"), [
    (pull("closed", state="closed"), "the pull request was closed"),
    (pull("closed", state="closed", merged=True), "the pull request was merged"),
    (pull("unlabeled", labels=("other",), label=LABEL), "does not carry the label"),
])
def test_closing_merging_or_unlabelling_destroys_it(state, why):
    decision = decide(state, SETTINGS, PREVIEWS, record(), NOW)

    assert decision.action is Action.DESTROY and why in decision.reason


def test_a_push_applies_the_new_head_and_the_applied_head_is_left_alone():
    assert decide(pull(head=NEWER), SETTINGS, PREVIEWS, record(), NOW).action is Action.APPLY
    assert decide(pull("poll", head=NEWER), SETTINGS, PREVIEWS, record(), NOW).action is Action.APPLY, \
        "the poll catches a push whose webhook was missed"
    assert decide(pull("poll"), SETTINGS, PREVIEWS, record(), NOW).action is Action.NOTHING


def test_a_failed_head_is_tried_again_by_a_push_event_but_not_by_every_poll():
    failed = record(status=FAILED, applied=None)

    assert decide(pull("poll"), SETTINGS, PREVIEWS, failed, NOW).action is Action.NOTHING
    assert decide(pull("synchronize"), SETTINGS, PREVIEWS, failed, NOW).action is Action.APPLY
    assert decide(pull("poll", head=NEWER), SETTINGS, PREVIEWS, failed, NOW).action is Action.APPLY


def test_an_interrupted_update_is_applied_again():
    assert decide(pull("poll"), SETTINGS, PREVIEWS, record(status="Reconciling"), NOW).action is Action.APPLY


def test_the_ttl_expires_it_even_when_github_cannot_be_asked():
    old = record(expires_at=NOW - 1)

    assert decide(pull(head=NEWER), SETTINGS, PREVIEWS, old, NOW).action is Action.EXPIRE
    assert decide_without_pull(old, NOW).action is Action.EXPIRE
    assert decide_without_pull(record(), NOW).action is Action.NOTHING


def test_an_expired_review_stack_stays_gone_until_it_is_labelled_again():
    expired = record(status=EXPIRED, applied=None, expires_at=NOW - 1)

    assert decide(pull(head=NEWER), SETTINGS, PREVIEWS, expired, NOW).action is Action.NOTHING
    assert decide_without_pull(expired, NOW).action is Action.NOTHING
    assert decide(pull("labeled", label=LABEL), SETTINGS, PREVIEWS, expired, NOW).action is Action.APPLY
    assert decide(pull("closed", state="closed"), SETTINGS, PREVIEWS, expired, NOW).action is Action.FORGET


@pytest.mark.parametrize(("base", "review"), [
    ("local", "local-pr-7"),
    ("organization/pulumi-gitops/local", "organization/pulumi-gitops/local-pr-7"),
    # A cloud organization's stack: the review stack lives in a diy backend, which knows one organization.
    ("acme/pulumi-gitops/prod", "organization/pulumi-gitops/prod-pr-7"),
])
def test_the_review_stack_is_named_after_the_base_stack_and_the_number(base, review):
    assert review_stack_name(base, 7) == review


@pytest.mark.parametrize(("entry", "namespace"), [
    ("web", "web-pr-7"),
    ("Web_App.prod", "web-app-prod-pr-7"),
    ("x" * 70, "x" * 58 + "-pr-7"),
])
def test_the_namespace_is_a_dns_label_that_always_keeps_the_number(entry, namespace):
    assert review_namespace(entry, 7) == namespace and len(namespace) <= 63


def test_each_review_stack_has_its_own_backend_under_the_state_directory(tiny_spec):
    target = review_target(tiny_spec, 7, Path("/state"))

    assert target.name == f"{tiny_spec.name}-pr-7"
    assert target.backend == Path("/state/review-stacks") / target.name / "backend"
