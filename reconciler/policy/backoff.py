"""When to try a failed commit again, from its classification and how many times it has failed in a row."""

from __future__ import annotations

import random
from typing import Optional

from reconciler.settings import RetryPolicy

from .classification import Classification, Retry


def retry_delay(
    classification: Classification,
    failures: int,
    policy: RetryPolicy,
    resync_interval: float,
    rng: Optional[random.Random] = None,
) -> Optional[float]:
    """Seconds until the same commit may be tried again; None means only a newer commit runs."""
    if classification.retry is Retry.NEXT_COMMIT:
        return None
    if classification.retry is Retry.WAIT:
        return policy.concurrent_delay
    if classification.retry is Retry.FIXED:
        return policy.unreachable_delay
    if classification.retry is Retry.NEXT_POLL:
        return resync_interval
    ceiling = min(policy.backoff_cap, policy.backoff_base * 2 ** max(failures - 1, 0))
    # "Equal jitter": at least half the step, so retries of many stacks spread out
    # without ever firing at once or right away.
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)
