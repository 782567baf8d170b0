"""What a review stack is called, where its objects and its state live: all derived from the base stack and the PR number.

`web` (Pulumi stack `local`) and pull request 7 give the entry `web-pr-7`, the
Pulumi stack `local-pr-7` (`organization/project/local-pr-7` for a qualified
`org/project/local`), the namespace `web-pr-7` and a file backend of its own
under the state directory: the review stack never shares state with anything.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

from reconciler.settings import ConfigOverride, StackSpec

# The diy backend accepts one organization name in a qualified stack name.
DIY_ORGANIZATION = "organization"
_NOT_IN_A_NAMESPACE = re.compile(r"[^a-z0-9-]+")
NAMESPACE_MAX = 63
# Under the state directory: one folder per review stack, its backend inside.
REVIEW_STACKS_DIR = "review-stacks"


@dataclass(frozen=True)
class ReviewTarget:
    name: str  # the entry's name in status, logs and the state directory: `<base>-pr-<number>`
    base: str  # the base stack entry's name
    number: int
    pulumi_stack: str
    namespace: str
    root: Path  # the review stack's folder in the state directory (its backend inside)

    @property
    def backend(self) -> Path:
        return self.root / "backend"


def review_target(base: StackSpec, number: int, state_dir: Path) -> ReviewTarget:
    suffix = f"-pr-{number}"
    name = f"{base.name}{suffix}"
    return ReviewTarget(
        name=name, base=base.name, number=number, pulumi_stack=review_stack_name(base.stack, number),
        namespace=review_namespace(base.name, number), root=state_dir / REVIEW_STACKS_DIR / name,
    )


def review_stack_name(base_stack: str, number: int) -> str:
    """`local` -> `local-pr-7`; `org/project/local` -> `organization/project/local-pr-7` (its backend is a diy one)."""
    parts = base_stack.split("/")
    own = f"{parts[-1]}-pr-{number}"
    return f"{DIY_ORGANIZATION}/{parts[1]}/{own}" if len(parts) == 3 else own


def review_namespace(base_name: str, number: int) -> str:
    """A DNS-1123 label: the base entry's name made lowercase and cut so that `-pr-<number>` always fits."""
    suffix = f"-pr-{number}"
    stem = _NOT_IN_A_NAMESPACE.sub("-", base_name.lower()).strip("-")[: NAMESPACE_MAX - len(suffix)].rstrip("-")
    return f"{stem or 'review'}{suffix}"


def review_spec(base: StackSpec, target: ReviewTarget, commit: str) -> StackSpec:
    """The base stack's settings at the pull request's head, under the review stack's name, state and namespace."""
    settings = base.review_stacks
    assert settings is not None, "only stacks with review_stacks have review stacks"
    namespace = ConfigOverride(settings.namespace_config, target.namespace)
    return dataclasses.replace(
        base, name=target.name, stack=target.pulumi_stack, backend_url=f"file://{target.backend}",
        branch=None, commit=commit, deletion_guard=None, config=(*base.config, namespace),
    )
