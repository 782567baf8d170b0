"""A unit's gate: its commit is applied only once its parent and every unit it depends on are in sync at it.

The promotion gate (promotion.py) already answers "is that stack in sync at this commit, or at one containing
it, and healthy?"; a unit asks it of each stack it waits for, without soak, and waits with its own reason.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional

from reconciler import promotion
from reconciler.errors import DEPENDENCY_NOT_READY, Waiting
from reconciler.settings import StackSpec


def dependency_pending(
    spec: StackSpec, head: str, position_of: Callable[[str], promotion.Position], contains: promotion.Contains, now: float,
) -> Optional[Waiting]:
    """None when nothing the unit waits for holds `head` back; else a Waiting naming the first stack that does."""
    if spec.unit is None:
        return None
    for upstream in spec.unit.waits_for:
        as_promotion = dataclasses.replace(spec, promote_from=upstream, soak=0.0, require_healthy=False)
        waiting = promotion.pending(as_promotion, head, position_of(upstream), contains, now, verb="applied")
        if waiting is not None:
            return Waiting(DEPENDENCY_NOT_READY, waiting.message)
    return None
