"""render_objects: the loaded objects as they are deployed, with images filled in and provenance stamped."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from .errors import ManifestError, ManifestProblem
from .model import ManifestObject
from .placeholders import substitute_images
from .stamping import commit_label_value, stamp


def render_objects(objects: Iterable[ManifestObject], images: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Fresh copies of the objects' bodies, in order; the ManifestObjects are not changed.

    images maps a placeholder NAME to the value that replaces `${image:NAME}`,
    normally a digest-pinned reference. Raises ManifestError naming every object
    that uses a NAME missing from images.
    """
    rendered = []
    problems = []
    for obj in objects:
        body, unknown = substitute_images(obj.body, images)
        for name in sorted(unknown):
            problems.append(
                ManifestProblem(
                    f"no image was given for placeholder ${{image:{name}}}",
                    f"Pass images[{name!r}] or fix the name (given: {', '.join(sorted(images)) or 'none'}).",
                    path=obj.path,
                    doc_index=obj.doc_index,
                    line=obj.line,
                    object_ref=obj.ref,
                )
            )
        stamp(body, commit_label_value(obj.commit), f"{obj.path}#{obj.doc_index}")
        rendered.append(body)
    if problems:
        raise ManifestError(problems)
    return rendered
