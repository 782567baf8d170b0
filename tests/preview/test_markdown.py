"""The GitHub comment: marker, heading, counts, deletes first, table, diff, masking and the size cap."""

from __future__ import annotations

import re

from reconciler.preview.markdown import COMMENT_LIMIT, render_markdown
from reconciler.preview.summary import ChangedResource, PreviewSummary, from_failure, summarize_preview
from reconciler.status.model import ChangeCounts

COMMIT = "3f1c9a7e5b2d4c6a8e0f1b3d5a7c9e1f2b4d6a8c"
DIFF = """\
Previewing update (dev):
  pulumi:pulumi:Stack: (same)
      ~ kubernetes:apps/v1:Deployment: (update)
          ~ spec: {
              ~ replicas: 2 => 3
            }
      - kubernetes:core/v1:ConfigMap: (delete)
Resources:
    ~ 1 to update
    - 1 to delete
    4 unchanged
"""


def issue_example(engine_events, **options) -> str:
    events = engine_events.replicas_change_and_configmap_delete()
    return render_markdown(summarize_preview("dev", COMMIT, events, diff_text=DIFF), **options)


def test_the_marker_is_the_first_line(engine_events):
    body = issue_example(engine_events)

    assert body.splitlines()[0] == "<!-- pulumi-gitops-preview stack=dev -->"


def test_heading_names_the_stack_and_the_short_commit(engine_events):
    heading = issue_example(engine_events).splitlines()[2]

    assert heading == "### Pulumi preview · stack `dev` · commit `3f1c9a7`"


def test_counts(engine_events):
    body = issue_example(engine_events)

    assert "**Plan:** 0 to create · 1 to update · 0 to replace · 1 to delete · 4 unchanged" in body


def test_deletes_and_replaces_are_flagged_above_the_table(engine_events):
    body = issue_example(engine_events)

    warning = body.index("> [!WARNING]")
    assert warning < body.index("**Plan:**") < body.index("| Type | Name |")
    assert "> **This change deletes 1 resource:**" in body
    assert "> - delete `kubernetes:core/v1:ConfigMap` `workloads-manifests:demo/demo-config`" in body


def test_no_warning_without_deletes_or_replaces():
    summary = PreviewSummary(
        "dev", COMMIT, ChangeCounts(update=1),
        (ChangedResource("kubernetes:apps/v1:Deployment", "demo", "urn:x", "update", ("spec.replicas",)),),
    )

    assert "[!WARNING]" not in render_markdown(summary)


def test_table_rows_put_deletes_first_and_name_the_changed_properties(engine_events):
    lines = issue_example(engine_events).splitlines()
    table = lines[lines.index("| Type | Name | Operation | Changed properties |") + 2 :]

    assert table[:2] == [
        "| `kubernetes:core/v1:ConfigMap` | `workloads-manifests:demo/demo-config` | **delete** | — |",
        "| `kubernetes:apps/v1:Deployment` | `workloads-manifests:demo/demo` | update | `spec.replicas` |",
    ]


def test_replacing_properties_are_marked():
    resource = ChangedResource("aws:ec2/vpc:Vpc", "net", "urn:x", "replace", ("cidrBlock", "tags"), ("cidrBlock",))
    body = render_markdown(PreviewSummary("dev", COMMIT, ChangeCounts(replace=1), (resource,)))

    assert "| `aws:ec2/vpc:Vpc` | `net` | **replace** | `cidrBlock` (replaces), `tags` |" in body
    assert "> **This change replaces 1 resource:**" in body
    assert "> - replace `aws:ec2/vpc:Vpc` `net` (forced by `cidrBlock`)" in body


def test_full_diff_is_in_a_collapsed_block(engine_events):
    body = issue_example(engine_events)

    details = body[body.index("<details>") :]
    assert details.startswith("<details><summary>Engine diff</summary>\n\n```diff\n" + DIFF.rstrip("\n") + "\n```\n\n</details>")


def test_no_changes_says_so():
    body = render_markdown(PreviewSummary("prod", COMMIT, ChangeCounts(same=12)))

    assert "No resource changes: the stack already matches this commit." in body
    assert "| Type |" not in body


def test_ansi_codes_are_stripped():
    diff = "\x1b[1m\x1b[38;5;3m~\x1b[0m spec: {\r\n  \x1b[32m+ replicas: 3\x1b[0m <{%fg 2%}>ok<{%reset%}>\n"
    body = render_markdown(PreviewSummary("dev", COMMIT, ChangeCounts(update=1), diff_text=diff))

    assert "\x1b" not in body and "\r" not in body and "<{%" not in body
    assert "~ spec: {\n  + replicas: 3 ok" in body


def test_secret_values_are_masked_everywhere():
    secret = "hunter2-db-password"
    resource = ChangedResource("kubernetes:core/v1:Secret", f"token-{secret}", "urn:x", "update", (f"data.{secret}",))
    summary = PreviewSummary(
        "dev", COMMIT, ChangeCounts(update=1), (resource,),
        diff_text=f"  ~ password: \x1b[31mhunter2-\x1b[0mdb-password => {secret}\n  ~ apiKey: [secret] => [secret]\n",
    )

    body = render_markdown(summary, secrets=[secret, ""])

    assert secret not in body
    assert "`token-[secret]`" in body and "`data.[secret]`" in body
    # Escape codes are stripped first, so a secret split by them is still found.
    assert "~ password: [secret] => [secret]" in body
    # What Pulumi already masked stays masked.
    assert "~ apiKey: [secret] => [secret]" in body


def test_multi_line_secret_is_masked_line_by_line():
    key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END KEY-----"
    diff = "  + tls.key: |\n      MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n      BKcwggSjAgEAAoIBAQC7\n"

    body = render_markdown(PreviewSummary("dev", COMMIT, ChangeCounts(update=1), diff_text=diff), secrets=[key])

    assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" not in body and "BKcwggSjAgEAAoIBAQC7" not in body


def test_a_70000_character_diff_is_cut_and_the_cut_is_stated(engine_events):
    lines = [f"      ~ data.KEY_{i:05d}: {'x' * 60} => {'y' * 60}" for i in range(600)]
    diff = "\n".join(lines)[:70_000]
    assert len(diff) == 70_000
    summary = summarize_preview("dev", COMMIT, engine_events.replicas_change_and_configmap_delete(), diff_text=diff)

    body = render_markdown(summary)

    assert len(body) <= COMMENT_LIMIT
    note = re.search(r"diff truncated: (\d+) of (\d+) characters shown", body)
    assert note is not None and int(note.group(2)) == 70_000
    shown = int(note.group(1))
    assert 50_000 < shown < 60_000
    block = body[body.index("```diff\n") + len("```diff\n") : body.index("\n```\n\n</details>")]
    assert len(block) == shown and diff.startswith(block)
    # The cut falls at a line end, and the rest of the comment is whole.
    assert diff[shown] == "\n"
    assert body.startswith("<!-- pulumi-gitops-preview stack=dev -->\n")
    assert "| `kubernetes:apps/v1:Deployment` | `workloads-manifests:demo/demo` | update | `spec.replicas` |" in body


def test_table_rows_are_cut_after_the_diff_and_deletes_stay():
    deletes = [ChangedResource("kubernetes:core/v1:ConfigMap", f"gone-{i}", f"urn:d{i}", "delete") for i in range(5)]
    updates = [
        ChangedResource("kubernetes:apps/v1:Deployment", f"app-{i:04d}-" + "n" * 150, f"urn:u{i}", "update", ("spec.replicas",))
        for i in range(2000)
    ]
    summary = PreviewSummary("dev", COMMIT, ChangeCounts(update=2000, delete=5), tuple(updates + deletes), diff_text="d" * 10_000)

    body = render_markdown(summary)

    assert len(body) <= COMMENT_LIMIT
    assert "diff truncated: 0 of 10000 characters shown" in body
    assert "<details>" not in body
    note = re.search(r"table truncated: (\d+) of 2005 changed resources shown", body)
    assert note is not None
    rows = [line for line in body.splitlines() if line.startswith("| `")]
    assert len(rows) == int(note.group(1)) < 2005
    assert all(f"`gone-{i}`" in "\n".join(rows[:5]) for i in range(5))
    assert "> **This change deletes 5 resources:**" in body


def test_a_diff_cannot_close_its_own_code_block():
    diff = "text with a fence\n```\n<b>not html</b>\n"
    body = render_markdown(PreviewSummary("dev", COMMIT, ChangeCounts(update=1), diff_text=diff))

    assert "````diff\n" + diff.rstrip("\n") + "\n````" in body


def test_table_cells_escape_pipes_and_backticks():
    resource = ChangedResource("custom:index:Thing", "a|b`c", "urn:x", "update", ("tags.a|b",))
    body = render_markdown(PreviewSummary("dev", COMMIT, ChangeCounts(update=1), (resource,)))

    assert "| `custom:index:Thing` | `` a\\|b`c `` | update | `tags.a\\|b` |" in body


def test_failed_preview_names_the_manifest_file(engine_events):
    message = (
        "Program failed with an unhandled exception:\n"
        "manifest_loader.errors.ManifestError: 1 problem in the Kubernetes manifests:\n"
        "  manifests/deployment.yaml: document 1 (line 7): Deployment/demo: spec.replicas must be an integer."
    )
    summary = from_failure("prod", COMMIT, RuntimeError("preview failed"), events=[engine_events.diagnostic(message)])

    body = render_markdown(summary)

    assert body.startswith("<!-- pulumi-gitops-preview stack=prod -->\n")
    assert "### Pulumi preview failed · stack `prod` · commit `3f1c9a7`" in body
    assert "```text\n" + message + "\n```" in body
    assert "manifests/deployment.yaml" in body
    assert "**Plan:**" not in body and "| Type |" not in body


def test_a_huge_failure_keeps_the_end_of_the_error():
    error = "Traceback (most recent call last):\n" + "  frame\n" * 20_000 + "ManifestError: manifests/service.yaml: document 1: bad port."
    summary = from_failure("dev", COMMIT, error, diff_text="o" * 30_000)

    body = render_markdown(summary)

    assert len(body) <= COMMENT_LIMIT
    assert "ManifestError: manifests/service.yaml: document 1: bad port." in body
    assert re.search(rf"error truncated: last \d+ of {len(error)} characters shown", body)
