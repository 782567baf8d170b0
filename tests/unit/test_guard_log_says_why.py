"""The deletion guard's log line says whether it previews and why, on the stack's own record
(reconciler/README.md, "Deletion guard": "... is previewed, and the log says why")."""

from __future__ import annotations

import logging

from reconciler.engine.operations import PreviewReport
from reconciler.status.model import ChangeCounts

A, B = "a" * 40, "b" * 40
MANIFEST = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web, namespace: demo}\ndata: {greeting: %s}\n"


def guard_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith("deletion guard:")]


def guarded(scripted):
    stack = scripted(deletion_guard=0, guard_manifests=("manifests",))
    stack.reconciler.reconcile("poll")  # A applied
    stack.workspace.head = B
    return stack


def test_a_manifest_edit_that_keeps_every_object_is_logged_as_needing_no_preview(scripted, caplog):
    stack = guarded(scripted)
    stack.workspace.changes[(A, B)] = ["manifests/web.yaml"]
    stack.workspace.files.update({(A, "manifests/web.yaml"): MANIFEST % "hello", (B, "manifests/web.yaml"): MANIFEST % "hallo"})
    caplog.clear()  # this pass's lines only: the root logger may pass the earlier ones through too
    with caplog.at_level(logging.INFO, logger="reconciler"):
        stack.reconciler.reconcile("poll")

    [line] = guard_lines(caplog)
    assert "nothing can be deleted" in line.getMessage() and line.stack == "tiny"
    assert "preview" not in stack.workspace.names()


def test_a_change_outside_the_manifests_is_previewed_and_the_log_names_the_file(scripted, caplog):
    stack = guarded(scripted)
    stack.workspace.changes[(A, B)] = ["program.py"]
    stack.workspace.script("preview", PreviewReport(ChangeCounts(update=1)))
    caplog.clear()  # this pass's lines only: the root logger may pass the earlier ones through too
    with caplog.at_level(logging.INFO, logger="reconciler"):
        stack.reconciler.reconcile("poll")

    [line] = guard_lines(caplog)
    assert line.getMessage() == "deletion guard: previewing (program.py changed (not a manifest))"
    assert (line.stack, line.commit) == ("tiny", B)
