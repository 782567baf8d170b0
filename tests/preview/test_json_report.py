"""The JSON form carries the comment's facts, cleaned the same way."""

from __future__ import annotations

import json

from reconciler.preview.json_report import preview_report, render_json
from reconciler.preview.summary import from_failure, summarize_preview

COMMIT = "3f1c9a7e5b2d4c6a8e0f1b3d5a7c9e1f2b4d6a8c"


def test_report_of_the_issue_example(engine_events):
    summary = summarize_preview("dev", COMMIT, engine_events.replicas_change_and_configmap_delete(), diff_text="\x1b[32m~ replicas: 2 => 3\x1b[0m\n")

    report = json.loads(render_json(summary))

    assert report["stack"] == "dev" and report["commit"] == COMMIT and report["result"] == "previewed"
    assert report["changes"] == {"create": 0, "update": 1, "replace": 0, "delete": 1, "same": 4}
    assert [(r["type"], r["name"], r["operation"], r["changed_properties"]) for r in report["resources"]] == [
        ("kubernetes:apps/v1:Deployment", "workloads-manifests:demo/demo", "update", ["spec.replicas"]),
        ("kubernetes:core/v1:ConfigMap", "workloads-manifests:demo/demo-config", "delete", []),
    ]
    assert report["destructive"] == [report["resources"][1]["urn"]]
    assert report["diff"] == "~ replicas: 2 => 3\n"
    assert report["error"] is None


def test_failed_report_carries_the_error():
    report = preview_report(from_failure("dev", COMMIT, "manifests/pdb.yaml: document 1: minAvailable must be set."))

    assert report["result"] == "failed"
    assert report["error"] == "manifests/pdb.yaml: document 1: minAvailable must be set."
    assert report["changes"] == {"create": 0, "update": 0, "replace": 0, "delete": 0, "same": 0}


def test_secrets_never_appear(engine_events):
    secret = "s3cr3t-registry-password"
    # The engine's state can carry a secret in the resource's inputs: the report never includes inputs.
    inputs = {"stringData": {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": "inputs-only-value"}}
    events = [
        engine_events.step("update", "kubernetes:core/v1:Secret", f"workloads-manifests:demo/{secret}", diffs=["stringData"], inputs=inputs),
        engine_events.diagnostic(f"error: login failed with {secret}"),
    ]
    summary = summarize_preview("dev", COMMIT, events, diff_text=f"password: {secret}\n")
    failed = from_failure("dev", COMMIT, RuntimeError(f"password {secret} refused"), events=events)

    for text in (render_json(summary, secrets=[secret]), render_json(failed, secrets=[secret])):
        assert secret not in text
        assert "inputs-only-value" not in text
        assert "[secret]" in text
