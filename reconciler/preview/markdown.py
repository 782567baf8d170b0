"""A preview summary as the GitHub comment for its stack.

The comment starts with the stack's hidden marker (found again on the next push
and edited in place), puts deletes and replaces first, and always fits under
GitHub's 65,536-character limit, saying exactly what it cut to get there.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable, Sequence

from reconciler.preview.comment_marker import comment_marker
from reconciler.preview.summary import ChangedResource, PreviewSummary
from reconciler.telemetry.secret_masking import clean_text

# GitHub refuses bodies over 65,536 characters; stay well clear of how it counts.
COMMENT_LIMIT = 60_000
# Below this a diff excerpt says nothing useful; the table gets the room instead.
_MIN_USEFUL_DIFF = 500
_MAX_LISTED_DESTRUCTIVE = 20
_MAX_PROPERTIES_PER_ROW = 10
_MAX_CELL = 200
_OPERATION_ORDER = ("delete", "replace", "update", "create", "import")
_TABLE_HEAD = "| Type | Name | Operation | Changed properties |\n|---|---|---|---|"

Clean = Callable[[str], str]


def render_markdown(summary: PreviewSummary, secrets: Iterable[str] = (), *, limit: int = COMMENT_LIMIT) -> str:
    """The comment body: escape codes stripped, every secret masked, at most `limit` characters."""
    secret_list = tuple(secrets)

    def clean(text: str) -> str:
        return clean_text(text, secret_list)

    if summary.failed:
        return _failure_comment(summary, clean, limit)
    return _preview_comment(summary, clean, limit)


def _preview_comment(summary: PreviewSummary, clean: Clean, limit: int) -> str:
    head = [comment_marker(summary.stack), "", _heading("Pulumi preview", summary, clean), "", *_note(summary, clean)]
    if summary.destructive:
        head += [*_destructive_warning(summary.destructive, clean), ""]
    head.append(_counts_line(summary))
    rows = [_row(resource, clean) for resource in _in_review_order(summary.resources)]
    diff = clean(summary.diff_text).strip("\n")
    fence = _fence(diff)

    def assemble(row_count: int, diff_shown: str, notes: Sequence[str]) -> str:
        parts = list(head)
        if notes:
            parts += ["", f"> **Cut to fit GitHub's comment limit:** {'; '.join(notes)}."]
        if row_count:
            parts += ["", _TABLE_HEAD, *rows[:row_count]]
        elif not rows:
            parts += ["", "No resource changes: the stack already matches this commit."]
        if diff_shown:
            parts += ["", _details("Engine diff", "diff", diff_shown, fence)]
        return "\n".join(parts) + "\n"

    body = assemble(len(rows), diff, [])
    if len(body) <= limit:
        return body

    # The diff is cut first: the table says the same in far less space.
    worst_note = _diff_note(len(diff), len(diff))
    budget = limit - (len(assemble(len(rows), "x", [worst_note])) - 1)
    if budget >= _MIN_USEFUL_DIFF:
        shown = _head(diff, budget)
        return assemble(len(rows), shown, [_diff_note(len(shown), len(diff))])

    # Then the table, from its end: deletes and replaces are at its top.
    diff_notes = [_diff_note(0, len(diff))] if diff else []
    worst_notes = [*diff_notes, _rows_note(len(rows), len(rows))]
    kept = _largest_fitting(len(rows), lambda k: len(assemble(k, "", worst_notes)) <= limit)
    return assemble(kept, "", [*diff_notes, _rows_note(kept, len(rows))])


def _failure_comment(summary: PreviewSummary, clean: Clean, limit: int) -> str:
    error = clean(summary.error or "").strip("\n")
    output = clean(summary.diff_text).strip("\n")
    error_fence, output_fence = _fence(error), _fence(output)
    head = [
        comment_marker(summary.stack),
        "",
        _heading("Pulumi preview failed", summary, clean),
        "",
        *_note(summary, clean),
        "The preview stopped with an error, so there is no plan for this commit. "
        "Fix the error and push again; this comment is updated in place.",
    ]

    def assemble(error_shown: str, output_shown: str, notes: Sequence[str]) -> str:
        parts = list(head)
        if notes:
            parts += ["", f"> **Cut to fit GitHub's comment limit:** {'; '.join(notes)}."]
        parts += ["", f"{error_fence}text", error_shown, error_fence]
        if output_shown:
            parts += ["", _details("Engine output", "text", output_shown, output_fence)]
        return "\n".join(parts) + "\n"

    body = assemble(error, output, [])
    if len(body) <= limit:
        return body

    # The end of an error is where the cause is (the last exception, the file);
    # the error keeps the room it needs first, the output gets the rest.
    worst_notes = [_tail_note("error", len(error), len(error)), _tail_note("output", len(output), len(output))]
    error_budget = limit - len(assemble("", "", worst_notes))
    error_shown = _tail(error, error_budget)
    output_budget = limit - (len(assemble(error_shown, "x", worst_notes)) - 1)
    output_shown = _tail(output, output_budget) if output_budget >= _MIN_USEFUL_DIFF else ""
    notes = []
    if len(error_shown) < len(error):
        notes.append(_tail_note("error", len(error_shown), len(error)))
    if output and len(output_shown) < len(output):
        notes.append(_tail_note("output", len(output_shown), len(output)))
    return assemble(error_shown, output_shown, notes)


def _heading(title: str, summary: PreviewSummary, clean: Clean) -> str:
    heading = f"### {title} · stack `{summary.stack}` · commit {_code(_short_commit(clean(summary.commit)))}"
    if summary.base:
        heading += f" (base {_code(_short_commit(clean(summary.base)))})"
    return heading


def _note(summary: PreviewSummary, clean: Clean) -> list[str]:
    return [f"> {line}" if line else ">" for line in clean(summary.note).splitlines()] + [""] if summary.note else []


def _short_commit(commit: str) -> str:
    return commit[:7] if re.fullmatch(r"[0-9a-f]{7,64}", commit) else commit[:40]


def _destructive_warning(resources: Sequence[ChangedResource], clean: Clean) -> list[str]:
    deletes = sum(1 for r in resources if r.operation == "delete")
    replaces = len(resources) - deletes
    counted = [
        f"{verb} {n} resource{'s' if n != 1 else ''}" for n, verb in ((deletes, "deletes"), (replaces, "replaces")) if n
    ]
    lines = ["> [!WARNING]", f"> **This change {' and '.join(counted)}:**"]
    for resource in _in_review_order(resources)[:_MAX_LISTED_DESTRUCTIVE]:
        forced = ""
        if resource.replacement_properties:
            forced = " (forced by " + ", ".join(_code(clean(p)) for p in resource.replacement_properties[:5]) + ")"
        lines.append(f"> - {resource.operation} {_code(clean(resource.type))} {_code(clean(resource.name))}{forced}")
    if len(resources) > _MAX_LISTED_DESTRUCTIVE:
        lines.append(f"> - and {len(resources) - _MAX_LISTED_DESTRUCTIVE} more (see the table)")
    return lines


def _counts_line(summary: PreviewSummary) -> str:
    c = summary.counts
    return (
        f"**Plan:** {c.create} to create · {c.update} to update · {c.replace} to replace · "
        f"{c.delete} to delete · {c.same} unchanged"
    )


def _row(resource: ChangedResource, clean: Clean) -> str:
    properties = []
    for path in resource.changed_properties[:_MAX_PROPERTIES_PER_ROW]:
        replaces = " (replaces)" if path in resource.replacement_properties else ""
        properties.append(_code(clean(path)) + replaces)
    hidden = len(resource.changed_properties) - _MAX_PROPERTIES_PER_ROW
    if hidden > 0:
        properties.append(f"and {hidden} more")
    operation = f"**{resource.operation}**" if resource.operation in ("delete", "replace") else resource.operation
    cells = [_code(clean(resource.type)), _code(clean(resource.name)), operation, ", ".join(properties) or "—"]
    return "| " + " | ".join(cells) + " |"


def _in_review_order(resources: Iterable[ChangedResource]) -> list[ChangedResource]:
    def rank(resource: ChangedResource) -> int:
        op = resource.operation
        return _OPERATION_ORDER.index(op) if op in _OPERATION_ORDER else len(_OPERATION_ORDER)

    return sorted(resources, key=rank)


def _code(value: str) -> str:
    """An inline code span that survives a table cell: one line, bounded, pipes escaped."""
    value = " ".join(value.split())
    if len(value) > _MAX_CELL:
        value = value[: _MAX_CELL - 1] + "…"
    value = value.replace("|", "\\|")
    return f"`` {value} ``" if "`" in value else f"`{value}`"


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks in the text, so the text cannot close it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _details(summary_label: str, language: str, text: str, fence: str) -> str:
    return f"<details><summary>{summary_label}</summary>\n\n{fence}{language}\n{text}\n{fence}\n\n</details>"


def _head(text: str, budget: int) -> str:
    """At most `budget` characters from the start, ending at a line end when one is near."""
    if len(text) <= budget:
        return text
    cut = text.rfind("\n", 0, budget)
    return text[: cut if cut > budget // 2 else budget]


def _tail(text: str, budget: int) -> str:
    """At most `budget` characters from the end, starting at a line start when one is near."""
    if len(text) <= budget:
        return text
    if budget <= 0:
        return ""
    start = len(text) - budget
    line_start = text.find("\n", start) + 1
    return text[line_start if 0 < line_start < start + budget // 2 else start :]


def _largest_fitting(count: int, fits: Callable[[int], bool]) -> int:
    """The largest k in 0..count with fits(k), for a `fits` that holds up to some k and fails after."""
    low, high = 0, count
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def _diff_note(shown: int, total: int) -> str:
    return f"diff truncated: {shown} of {total} characters shown"


def _rows_note(shown: int, total: int) -> str:
    return f"table truncated: {shown} of {total} changed resources shown"


def _tail_note(what: str, shown: int, total: int) -> str:
    return f"{what} truncated: last {shown} of {total} characters shown"
