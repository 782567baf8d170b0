"""A unit stack's settings: its parent's (repository, branch, backend, passphrase, overrides, env), under its own
name, with `pulumi-gitops:unit` set and the paths whose change runs it."""

from __future__ import annotations

import dataclasses
from typing import Optional

from manifest_loader.units import unit_stack_name
from reconciler.settings import ConfigOverride, StackSpec, UnitLink

from .record import UnitRecord

UNIT_CONFIG_KEY = "pulumi-gitops:unit"


def unit_entry_name(parent: str, unit: str) -> str:
    """`web` and `apps` give `web.apps`: the unit's name in status, metrics and the state directory."""
    return unit_stack_name(parent, unit)


def unit_spec(parent: StackSpec, record: UnitRecord, parent_outputs: Optional[str] = None) -> StackSpec:
    """parent_outputs: the digest of the parent's outputs the unit reads (in its desired state), when known."""
    waits_for = (parent.name, *(unit_entry_name(parent.name, unit) for unit in record.depends_on))
    return dataclasses.replace(
        parent,
        name=record.name,
        stack=record.pulumi_stack,
        paths=record.paths,
        config=(*parent.config, ConfigOverride(UNIT_CONFIG_KEY, record.unit)),
        promote_from=None, soak=0.0, require_healthy=False, review_stacks=None,
        unit=UnitLink(parent=parent.name, unit=record.unit, waits_for=waits_for, parent_outputs=parent_outputs,
                      claims=record.claims),
    )
