"""Sorts a failed reconcile into an error class and says how to retry it.

Engine failures are told apart by the Automation API's own error classes, never
by reading their text here: a concurrent update waits and retries, a program
(or manifest) error waits for the next commit, anything else backs off. Whether
the backend was reachable is asked of the backend itself, not of the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Callable, Optional

from pulumi import automation as auto

from reconciler.source.checkout import CommitMissingError
from reconciler.source.git_command import GitError
from reconciler.source.remote_head import BranchMissingError


class Retry(str, Enum):
    WAIT = "wait"  # someone else holds the stack: try the same commit after a fixed wait
    FIXED = "fixed"  # something is unreachable: try again after a short fixed delay
    BACKOFF = "backoff"  # unknown trouble: exponential backoff with jitter up to a cap
    NEXT_POLL = "next_poll"  # nothing to run yet: look again at the next poll
    NEXT_COMMIT = "next_commit"  # the commit itself is bad: wait for a newer one


@dataclass(frozen=True)
class Classification:
    error_class: str
    retry: Retry


CONCURRENT_UPDATE = Classification("concurrent_update", Retry.WAIT)
PROGRAM_ERROR = Classification("program_error", Retry.NEXT_COMMIT)
SOURCE_UNREACHABLE = Classification("source_unreachable", Retry.FIXED)
BACKEND_UNREACHABLE = Classification("backend_unreachable", Retry.FIXED)
BRANCH_MISSING = Classification("branch_missing", Retry.NEXT_POLL)
COMMIT_MISSING = Classification("commit_missing", Retry.NEXT_COMMIT)
SOURCE_ERROR = Classification("source_error", Retry.BACKOFF)
ENGINE_ERROR = Classification("engine_error", Retry.BACKOFF)
INTERNAL_ERROR = Classification("internal_error", Retry.BACKOFF)
INTERRUPTED = Classification("interrupted", Retry.BACKOFF)

# The SDK raises these when the program itself failed (an exception, such as a
# ManifestError, or a compile error): the same commit would fail the same way.
_PROGRAM_FAILURES = (auto.errors.RuntimeError, auto.errors.CompilationError, auto.errors.InlineSourceRuntimeError)


def classify(error: BaseException, backend_reachable: Optional[Callable[[], bool]] = None) -> Classification:
    if isinstance(error, auto.ConcurrentUpdateError):
        return CONCURRENT_UPDATE
    if isinstance(error, _PROGRAM_FAILURES):
        return PROGRAM_ERROR
    if isinstance(error, auto.CommandError):
        if backend_reachable is not None and not backend_reachable():
            return BACKEND_UNREACHABLE
        return ENGINE_ERROR
    if isinstance(error, BranchMissingError):
        return BRANCH_MISSING
    if isinstance(error, CommitMissingError):
        return COMMIT_MISSING
    if isinstance(error, GitError):
        return SOURCE_UNREACHABLE if error.unreachable else SOURCE_ERROR
    return INTERNAL_ERROR
