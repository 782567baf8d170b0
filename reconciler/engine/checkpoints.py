"""Whether an `up` saves the state after every step (checkpoints) or once, at its end.

The file backend writes the whole state twice for every step, so an `up` that creates N objects costs N² (README,
Scale). Without checkpoints a killed engine leaves the state as it was before the run: what the run did is in the
world but not in the state. That is safe only for what the next pass finds and takes back:
- Kubernetes objects: each carries its stack's label (manifest_loader/stamping.py); a create of an object that
  exists adopts it (the provider's server-side apply with force); recovery refreshes the state and sweeps the
  labelled objects neither the state nor Git holds (inventory_sweep.py);
- providers, component resources and the stack itself: nothing outside the state;
- docker-build images: a push is content-addressed and repeated as it is by the next run, checkpoints or not.
Anything else (a registry repository, a cluster, a bucket) would be left behind unrecorded, so its stack keeps
checkpoints. A stack's first run (an empty state) keeps them too: what it will hold is not known yet. Except a
unit stack's: the program deploys only its unit's manifests there (program.py), so it skips them from its first
run, which is most of a unit's cost.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Sequence

from .stack_locks import backend_folder
from .stack_session import StackSession

log = logging.getLogger("reconciler.engine")
SKIP_CHECKPOINTS = "PULUMI_SKIP_CHECKPOINTS"
AUTO, ALWAYS, SKIP = "auto", "always", "skip"
_TAKEN_BACK_TYPES = ("docker-build:index:Image",)


def taken_back(resource: Mapping[str, Any]) -> bool:
    """True for what a run after a killed one finds again without the state's record of it (see the docstring)."""
    kind = str(resource.get("type", ""))
    if not resource.get("custom", False) or kind.startswith("pulumi:providers:") or kind in _TAKEN_BACK_TYPES:
        return True
    # A read (a unit's StackReference to its parent, a `.get`) creates nothing a killed run could lose.
    if resource.get("external", False):
        return True
    # A Helm release stands for objects without the stack's label.
    return kind.startswith("kubernetes:") and not kind.startswith("kubernetes:helm.sh/")


def skips_checkpoints(mode: str, resources: Sequence[Mapping[str, Any]], can_sweep: bool, unit: bool = False) -> bool:
    """auto skips only for a state of Kubernetes objects (and what holds them) whose cluster a recovery can sweep;
    for a unit stack also before it holds any."""
    if mode != AUTO:
        return mode == SKIP
    objects = [r for r in resources if r.get("custom") and str(r.get("type", "")).startswith("kubernetes:")]
    return can_sweep and (unit or bool(objects)) and all(taken_back(r) for r in resources)


def last_state_resources(session: StackSession, project: Optional[str] = None) -> list[dict[str, Any]]:
    """The resources of the stack's last saved state: read from the file for a file backend (no CLI run, no
    decryption: only types and identities are needed), exported by the CLI otherwise. `project` defaults to the
    name in the checkout's Pulumi.yaml."""
    folder = backend_folder(session.spec.backend_url)
    if folder is None:
        return list((session.stack.export_stack().deployment or {}).get("resources") or [])
    path = _state_file(folder, project or session.stack.workspace.project_settings().name, session.spec.stack)
    if path is None:
        return []
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as file:
        checkpoint = json.load(file).get("checkpoint") or {}
    return list((checkpoint.get("latest") or {}).get("resources") or [])


def _state_file(folder: Path, project: str, stack: str) -> Optional[Path]:
    stacks, name = folder / ".pulumi" / "stacks", stack.rsplit("/", 1)[-1]
    # Project-scoped layout first, then the legacy one; either may be gzipped (PULUMI_SELF_MANAGED_STATE_GZIP).
    for base in (stacks / project / name, stacks / name):
        for path in (base.with_name(base.name + ".json"), base.with_name(base.name + ".json.gz")):
            if path.is_file():
                return path
    return None


def can_sweep(session: StackSession) -> bool:
    """A recovery sweeps the cluster the stack's Events go to: without one known, nothing could be swept."""
    return session.spec.events is not None


def wants_skip(session: StackSession) -> bool:
    mode = session.spec.checkpoints
    if mode != AUTO:
        return mode == SKIP
    # The state is read only when it can decide.
    return can_sweep(session) and skips_checkpoints(mode, last_state_resources(session), can_sweep=True,
                                                    unit=session.spec.unit is not None)


def may_have_skipped(session: StackSession) -> bool:
    """Whether a killed `up` of this stack may have run without checkpoints: the state it started from is still the
    last saved one, so the same choice is made again."""
    own = dict(session.spec.env).get(SKIP_CHECKPOINTS)
    return own.lower() in ("true", "1") if own is not None else wants_skip(session)


@contextlib.contextmanager
def checkpoints_for_up(session: StackSession) -> Iterator[bool]:
    """Sets PULUMI_SKIP_CHECKPOINTS for the CLI runs inside, when the stack's mode and last state allow it; yields
    whether it did. A stack whose `env:` sets the variable keeps its own value."""
    if any(name == SKIP_CHECKPOINTS for name, _ in session.spec.env) or not wants_skip(session):
        yield False
        return
    env = session.stack.workspace.env_vars
    assert isinstance(env, dict), "the stack's workspace was made with its own environment"
    env[SKIP_CHECKPOINTS] = "true"
    log.info("checkpoints off for this update (%s): the state is saved once, at its end",
             "checkpoints: skip" if session.spec.checkpoints == SKIP
             else "a unit stack: only Kubernetes objects" if session.spec.unit is not None
             else "the last state holds only Kubernetes objects",
             extra={"stack": session.spec.name})
    try:
        yield True
    finally:
        env.pop(SKIP_CHECKPOINTS, None)
