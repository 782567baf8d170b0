"""What a pull request's comment says of a unit it removes: when the reconciler destroys its stack, and which
trailer the deletion guard needs; the note is the first thing in the comment and in the JSON report."""

from __future__ import annotations

import dataclasses

from reconciler.preview.json_report import preview_report
from reconciler.preview.markdown import render_markdown
from reconciler.preview.summary import PreviewSummary, from_failure
from reconciler.units.previews import removal_note
from reconciler.units.record import UnitRecord

COMMIT = "3f1c9a7e5b2d4c6a8e0f1b3d5a7c9e1f2b4d6a8c"
JOBS = UnitRecord(name="tiny.jobs", parent="tiny", unit="jobs", pulumi_stack="dev.jobs", position=2,
                  files=("jobs/nightly.yaml",), depends_on=(), paths=("manifests/jobs/nightly.yaml",), planned_at=COMMIT)
GONE = ("This pull request removes unit `jobs`: once it is merged, the reconciler destroys the unit's stack `dev.jobs` "
        "and removes it from its backend")


def test_without_a_guard_the_stack_goes_at_once(tiny_spec):
    assert removal_note(dataclasses.replace(tiny_spec, deletion_guard=None), JOBS, 7) == \
        f"{GONE} at once (the stack has no deletion guard)."


def test_within_the_guard_it_goes_with_the_merge(tiny_spec):
    assert removal_note(dataclasses.replace(tiny_spec, deletion_guard=10), JOBS, 7) == \
        f"{GONE}: its 7 resource(s) are within the deletion guard of 10."


def test_over_the_guard_the_note_names_the_trailer(tiny_spec):
    note = removal_note(dataclasses.replace(tiny_spec, deletion_guard=0), JOBS, 7)

    assert note == (f"{GONE} only through the deletion guard of 0: a commit since the unit was last applied (in this "
                    "pull request, or after it) must carry the trailer `Allow-Deletes: 7`; until then its stack stays, blocked.")


def test_a_count_the_destroy_preview_could_not_give_is_told_as_n(tiny_spec):
    note = removal_note(dataclasses.replace(tiny_spec, deletion_guard=5), JOBS, None)

    assert "the trailer `Allow-Deletes: N`, N the resources the unit deploys; until then" in note


def test_the_note_opens_the_comment_and_the_report_and_is_masked():
    note = "This pull request removes unit `jobs`: hunter2-secret is gone"
    summary = PreviewSummary(stack="tiny.jobs", commit=COMMIT, note=note)
    failed = dataclasses.replace(from_failure("tiny.jobs", COMMIT, "no state"), note=note)

    for body in (render_markdown(summary, ["hunter2-secret"]), render_markdown(failed, ["hunter2-secret"])):
        lines = body.splitlines()
        assert lines[4] == "> This pull request removes unit `jobs`: [secret] is gone", body
    assert preview_report(summary, ["hunter2-secret"])["note"] == "This pull request removes unit `jobs`: [secret] is gone"
    assert preview_report(PreviewSummary(stack="tiny", commit=COMMIT))["note"] is None
