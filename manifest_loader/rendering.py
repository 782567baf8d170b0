"""render_objects: the loaded objects as they are deployed, with placeholders filled in and provenance stamped."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

from .errors import ManifestError, object_problem
from .model import ManifestObject
from .placeholders import substitute
from .readiness import mark_awaits
from .stamping import commit_label_value, stamp


def render_objects(
    objects: Iterable[ManifestObject],
    images: Mapping[str, Any],
    secrets: Optional[Mapping[str, str]] = None,
    awaits: str = "provider",
) -> list[dict[str, Any]]:
    """Fresh copies of the objects' bodies, in order; the ManifestObjects are not changed.

    images maps a placeholder NAME to the value that replaces `${image:NAME}`,
    normally a digest-pinned reference; secrets maps NAME to the plain value of
    `${secret:NAME}` (the caller keeps the result secret); awaits is the stack's
    readiness choice (manifest_loader.readiness). Raises ManifestError
    naming every object that uses a NAME missing from them.
    """
    secrets = secrets or {}
    rendered = []
    problems = []
    for obj in objects:
        body, unknown = substitute(obj.body, images, secrets)
        for name in sorted(unknown):
            kind, _, short = name.partition(":")
            given = images if kind == "image" else secrets
            problems.append(
                object_problem(
                    obj,
                    f"no {kind} was given for placeholder ${{{name}}}",
                    f"Pass {kind}s[{short!r}] or fix the name (given: {', '.join(sorted(given)) or 'none'}).",
                )
            )
        stamp(body, commit_label_value(obj.commit), obj.source)
        mark_awaits(body, awaits)
        rendered.append(body)
    if problems:
        raise ManifestError(problems)
    return rendered
