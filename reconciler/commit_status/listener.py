"""The run listener that turns runs into commit statuses, and never posts what would only repeat.

Pending is posted when an apply starts on a commit that has no status of the stack's from this process
yet. A result is posted unless the status GitHub took last for the same stack and commit said the same
(state, result, reason and counts), and a drift check that finds nothing is posted only when the commit
does not show success already. So a stack that retries a failing commit, or checks for drift every few
minutes, stays far from GitHub's 1000 statuses per commit and context; and a status GitHub did not take
is sent again with the next run.
"""

from __future__ import annotations

from typing import Callable, Optional

from reconciler.run_events import RunListener
from reconciler.settings import GitHubSettings, ServiceConfig, StackSpec
from reconciler.status.model import Result, RunKind, RunOutcome, StackState

from .delivery import CommitStatus, StatusDelivery
from .repository import github_repository
from .status_text import APPLYING, SUCCESS, StatusText, recorded


def commit_status_listeners(config: ServiceConfig) -> list[RunListener]:
    """One listener for the stacks whose commits are on the configured GitHub; none when statuses are off."""
    repositories = {spec.name: repo for spec in config.stacks if (repo := github_repository(spec, config.github.api_url))}
    if not config.github.commit_statuses or not repositories:
        return []
    return [CommitStatuses(config.github, repositories, StatusDelivery(config.github.api_url, config.github.token_env))]


class CommitStatuses:
    def __init__(self, github: GitHubSettings, repositories: dict[str, str], delivery: StatusDelivery) -> None:
        self.target_url = github.status_target_url
        self.repositories = repositories
        self.delivery = delivery

    def run_started(self, spec: StackSpec, run: RunOutcome) -> None:
        if run.kind is RunKind.APPLY and run.commit:
            self._post(spec.name, run.commit, APPLYING, lambda shown: shown is None)

    def run_recorded(self, spec: StackSpec, run: RunOutcome, state: StackState) -> None:
        if not run.commit:
            return
        text = recorded(run)
        nothing_found = run.kind is RunKind.DRIFT and run.result is Result.SKIPPED

        def news(shown: Optional[StatusText]) -> bool:
            if shown is None:
                return True
            return (shown.state, shown.headline) != (text.state, text.headline) and not (nothing_found and shown.state == SUCCESS)

        self._post(spec.name, run.commit, text, news)

    def flush(self, timeout_s: float) -> None:
        self.delivery.flush(timeout_s)

    def _post(self, stack: str, commit: str, text: StatusText, worth_posting: Callable[[Optional[StatusText]], bool]) -> None:
        """Queues the status when `worth_posting` says so, given what the commit shows (None: nothing sent yet)."""
        repository = self.repositories.get(stack)
        if repository is None or not worth_posting(self.delivery.shown(stack, commit)):
            return
        target = self.target_url.format(stack=stack, commit=commit) if self.target_url else None
        self.delivery.send(CommitStatus(stack, repository, commit, text, target))
