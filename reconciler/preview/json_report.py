"""A preview summary as JSON: the facts of the Markdown comment, for machines."""

from __future__ import annotations

import json
from typing import Any, Iterable, Optional

from reconciler.preview.summary import PreviewSummary
from reconciler.telemetry.secret_masking import clean_text


def preview_report(summary: PreviewSummary, secrets: Iterable[str] = ()) -> dict[str, Any]:
    """Plain data; every string has its escape codes stripped and its secrets masked.

    `changes` has the same keys as the reconciler's `once --json` records. Nothing
    is cut: the size limit is GitHub's, not this report's.
    """
    secret_list = tuple(secrets)

    def clean(text: str) -> str:
        return clean_text(text, secret_list)

    return {
        "stack": summary.stack,
        "commit": clean(summary.commit),
        "base": clean(summary.base) if summary.base else None,
        "result": "failed" if summary.failed else "previewed",
        "changes": summary.counts.as_dict(),
        "resources": [
            {
                "type": clean(resource.type),
                "name": clean(resource.name),
                "urn": clean(resource.urn),
                "operation": resource.operation,
                "changed_properties": [clean(p) for p in resource.changed_properties],
                "replacement_properties": [clean(p) for p in resource.replacement_properties],
            }
            for resource in summary.resources
        ],
        "destructive": [clean(resource.urn) for resource in summary.destructive],
        "diff": clean(summary.diff_text),
        "error": clean(summary.error) if summary.error is not None else None,
        "note": clean(summary.note) if summary.note is not None else None,
    }


def render_json(summary: PreviewSummary, secrets: Iterable[str] = (), units: Optional[list[dict[str, Any]]] = None) -> str:
    """`preview_report` as indented JSON text, ending with a newline; with `units`, the units' reports under that key."""
    report = preview_report(summary, secrets)
    if units is not None:
        report["units"] = units
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
