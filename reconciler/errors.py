"""Errors typed where they are raised: what went wrong (a reason in the platform's words) and when to look again.

Three kinds, as Flux's controllers and kopf split them:
- Temporary: try the same commit again after `delay` (None: exponential backoff). `bounded` errors (a program
  that raised) are tried a limited number of times, then the stack stalls until the commit or config changes.
- Waiting: someone else holds the stack (a live lock), or a prerequisite is not met: look again after `delay`;
  not a failure of this commit.
- Stalled: the commit (or config) itself cannot be applied; nothing is tried until a newer commit or a config change.

The SDK's error classes are mapped once, in `from_engine`; nothing else reads engine errors.
"""

from __future__ import annotations

from typing import Callable, Optional

from pulumi import automation as auto

from reconciler.settings import RetryPolicy


class ReconcileError(Exception):
    def __init__(self, reason: str, message: str, delay: Optional[float] = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.delay = delay


class Temporary(ReconcileError):
    def __init__(self, reason: str, message: str, delay: Optional[float] = None, bounded: bool = False) -> None:
        super().__init__(reason, message, delay)
        self.bounded = bounded


class Waiting(ReconcileError):
    pass


class Stalled(ReconcileError):
    pass


class EngineInterrupted(auto.CommandError):
    """The CLI did not end by itself: killed by a signal (the OOM killer, an operator) or stopped at its deadline."""

    def __init__(self, result: auto.CommandResult, why: str, description: str) -> None:
        super().__init__(result)
        self.why = why  # "deadline", "signal" or "fence" (a replica stopped it before losing the stack's Lease)
        self.description = description


# Reasons, one vocabulary for status, metrics and logs.
SOURCE_UNREACHABLE = "SourceUnreachable"
BRANCH_MISSING = "BranchMissing"
COMMIT_MISSING = "CommitMissing"
SOURCE_ERROR = "SourceError"
PROGRAM_ERROR = "ProgramError"
ENGINE_ERROR = "EngineError"
BACKEND_UNREACHABLE = "BackendUnreachable"
LOCK_HELD = "LockHeld"
PROMOTION_PENDING = "PromotionPending"  # the stack promote_from names has not applied the commit, or not soaked
LEASE_LOST = "LeaseLost"
DEPENDENCY_NOT_READY = "DependencyNotReady"  # a unit's parent, or a unit it depends on, is not in sync at its commit
INTERRUPTED = "Interrupted"
DEADLINE_EXCEEDED = "DeadlineExceeded"
DELETION_GUARD = "DeletionGuard"
INTERNAL_ERROR = "InternalError"
# The reasons of Waiting errors: a stack ending with one of them waits for someone else, it did not fail.
WAITING_REASONS = frozenset({LOCK_HELD, PROMOTION_PENDING, LEASE_LOST, DEPENDENCY_NOT_READY})

# The SDK raises these when the program itself failed (an exception such as a ManifestError, a compile
# error). The same commit usually fails the same way, but not always (a token call, a file being
# rewritten), so they are retried a bounded number of times before the stack stalls.
_PROGRAM_FAILURES = (auto.errors.RuntimeError, auto.errors.CompilationError, auto.errors.InlineSourceRuntimeError)


def from_engine(
    error: auto.CommandError, message: str, backend_reachable: Callable[[], bool], retry: RetryPolicy
) -> ReconcileError:
    """The adapter from the SDK's error classes (and the CLI's exit) to the three kinds."""
    if isinstance(error, EngineInterrupted) and error.why == "fence":
        return Waiting(LEASE_LOST, f"{error.description}; the replica holding the stack next recovers it. "
                                   f"Engine output: {message}", delay=retry.concurrent_delay)
    if isinstance(error, EngineInterrupted):
        reason = DEADLINE_EXCEEDED if error.why == "deadline" else INTERRUPTED
        return Temporary(reason, f"{error.description}; the next pass releases its lock and clears what it left pending. "
                                 f"Engine output: {message}")
    if isinstance(error, auto.ConcurrentUpdateError):
        return Waiting(LOCK_HELD, message, delay=retry.concurrent_delay)
    if isinstance(error, _PROGRAM_FAILURES):
        return Temporary(PROGRAM_ERROR, message, bounded=True)
    if not backend_reachable():
        return Temporary(BACKEND_UNREACHABLE, message, delay=retry.unreachable_delay)
    return Temporary(ENGINE_ERROR, message)
