"""A review stack as the service remembers it: what it is, what it applied, where it stands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

# Where a review stack stands, in the platform's words.
RECONCILING = "Reconciling"  # an update or the first `up` is running
READY = "Ready"  # the head in applied_commit is applied
FAILED = "Failed"  # the last update failed; the next push or poll tries again
DESTROYING = "Destroying"
DESTROY_FAILED = "DestroyFailed"  # the poll tries again
EXPIRED = "Expired"  # destroyed when its ttl ran out; kept so that pushes do not bring it back


@dataclass
class ReviewStack:
    name: str  # `<base>-pr-<number>`
    base: str
    repository: str  # owner/repo
    number: int
    pulumi_stack: str
    namespace: str
    head: str  # the pull request's head the service last saw
    status: str
    message: str
    created_at: float
    expires_at: float
    updated_at: float
    applied_commit: Optional[str] = None
    url: Optional[str] = None  # the app's URL, from the stack output the config names
    # The pull request's preview, as last posted: the comment holds both, and either may be posted first.
    preview_body: Optional[str] = None

    def as_status(self) -> dict[str, object]:
        """For /status and `status --json`; the preview's text stays out."""
        return {key: value for key, value in vars(self).items() if key != "preview_body"}
