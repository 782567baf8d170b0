"""What a pull request's event (or the poll's look at it) means for its review stack: apply, destroy, forget or nothing.

Pure decisions, so every rule is tested without an engine:
- a review stack exists while the pull request is open, carries the label and is allowed (no fork, unless
  `previews.forks`); closing or merging it, or removing the label, destroys it;
- each new head is applied; the head already applied is left alone;
- the TTL counts from creation: when it runs out the stack is destroyed and stays destroyed (`Expired`)
  until someone adds the label again, which starts a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Optional

from reconciler.settings import PreviewSettings, ReviewStackSettings

from .record import EXPIRED, FAILED, READY, ReviewStack

TTL_RAN_OUT = "its ttl ran out"


class Action(str, Enum):
    APPLY = "apply"
    DESTROY = "destroy"
    EXPIRE = "expire"  # destroy, and keep the record so that pushes do not bring the stack back
    FORGET = "forget"  # destroyed already (expired): only the record goes
    NOTHING = "nothing"


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str


@dataclass(frozen=True)
class PullRequestState:
    """What the decision needs of a pull request, from a webhook payload or from GitHub's answer."""

    open: bool
    merged: bool
    head: str
    labels: frozenset[str]
    fork: bool
    # The action of the webhook event; "poll" when the service looked at the pull request itself.
    action: str
    label_added: Optional[str] = None  # the `labeled` event's label

    @classmethod
    def from_payload(cls, pull: dict[str, Any], action: str, repository: str, label_added: Optional[str] = None) -> "PullRequestState":
        labels = pull.get("labels")
        labels = labels if isinstance(labels, list) else []
        head_repo = pull["head"].get("repo")
        return cls(
            open=pull.get("state", "open") == "open" and action != "closed",
            merged=bool(pull.get("merged")),
            head=str(pull["head"].get("sha") or ""),
            labels=frozenset(label["name"] for label in labels if isinstance(label, dict) and isinstance(label.get("name"), str)),
            # A deleted fork leaves head.repo null: treat it as a fork.
            fork=not isinstance(head_repo, dict) or head_repo.get("full_name") != repository,
            action=action,
            label_added=label_added,
        )


def decide(pull: PullRequestState, settings: ReviewStackSettings, previews: PreviewSettings,
           record: Optional[ReviewStack], now: float) -> Decision:
    ended = _why_it_ends(pull, settings)
    if record is None:
        if ended is not None:
            return Decision(Action.NOTHING, ended)
        if pull.fork and not previews.forks:
            return Decision(Action.NOTHING, "the pull request comes from a fork: review stacks of forks are off "
                                            "(previews.forks: false)")
        return Decision(Action.APPLY, f"a maintainer labeled it {settings.label!r}")
    if ended is not None:
        return Decision(Action.FORGET if record.status == EXPIRED else Action.DESTROY, ended)
    relabeled = pull.action == "labeled" and pull.label_added == settings.label
    if record.status == EXPIRED:
        if relabeled:
            return Decision(Action.APPLY, f"labeled {settings.label!r} again after its ttl ran out: a new review stack")
        return Decision(Action.NOTHING, f"its ttl ran out; add the label {settings.label!r} again for a new one")
    if record.expires_at <= now:
        return Decision(Action.EXPIRE, TTL_RAN_OUT)
    if pull.fork and not previews.forks:
        return Decision(Action.NOTHING, "the head now comes from a fork: it is not applied (previews.forks: false)")
    if pull.head == record.applied_commit and record.status == READY:
        return Decision(Action.NOTHING, f"head {pull.head[:12]} is applied already")
    if pull.head == record.head and record.status == FAILED and pull.action == "poll":
        return Decision(Action.NOTHING, f"head {pull.head[:12]} failed; the next push tries again")
    return Decision(Action.APPLY, f"head {pull.head[:12]} is not applied yet")


def decide_without_pull(record: Optional[ReviewStack], now: float) -> Decision:
    """GitHub could not be asked: only the TTL can be judged."""
    if record is not None and record.status != EXPIRED and record.expires_at <= now:
        return Decision(Action.EXPIRE, TTL_RAN_OUT)
    return Decision(Action.NOTHING, "GitHub could not be asked about the pull request")


def _why_it_ends(pull: PullRequestState, settings: ReviewStackSettings) -> Optional[str]:
    if pull.merged:
        return "the pull request was merged"
    if not pull.open:
        return "the pull request was closed"
    if settings.label not in pull.labels:
        return f"the pull request does not carry the label {settings.label!r}"
    return None
