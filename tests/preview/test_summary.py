"""Engine events, built by the SDK's own from_json, reduced to a PreviewSummary."""

from __future__ import annotations

import pytest
from pulumi.automation._cmd import CommandResult
from pulumi.automation.errors import CommandError

from reconciler.engine.change_set import name_from_urn
from reconciler.preview.summary import from_failure, summarize_preview
from reconciler.status.model import ChangeCounts

COMMIT = "3f1c9a7e5b2d4c6a8e0f1b3d5a7c9e1f2b4d6a8c"


def test_replicas_change_and_configmap_delete(engine_events):
    summary = summarize_preview("dev", COMMIT, engine_events.replicas_change_and_configmap_delete())

    assert summary.counts == ChangeCounts(create=0, update=1, replace=0, delete=1, same=4)
    assert [(r.type, r.name, r.operation, r.changed_properties) for r in summary.resources] == [
        ("kubernetes:apps/v1:Deployment", "workloads-manifests:demo/demo", "update", ("spec.replicas",)),
        ("kubernetes:core/v1:ConfigMap", "workloads-manifests:demo/demo-config", "delete", ()),
    ]
    assert [r.operation for r in summary.destructive] == ["delete"]
    assert not summary.failed


def test_config_map_data_key_is_reported_as_its_path(engine_events):
    events = [
        engine_events.step(
            "update", "kubernetes:core/v1:ConfigMap", "workloads-manifests:demo/demo-config",
            diffs=["data"], detailed_diff={"data.GREETING": "update", "__inputs": "update"},
        )
    ]

    (resource,) = summarize_preview("dev", COMMIT, events).resources

    assert resource.changed_properties == ("data.GREETING",)


def test_top_level_diffs_are_used_when_the_provider_gives_no_detailed_diff(engine_events):
    events = [engine_events.step("update", "aws:eks/nodeGroup:NodeGroup", "cluster-nodes", parent="", diffs=["scalingConfig", "tags"])]

    (resource,) = summarize_preview("dev", COMMIT, events).resources

    assert resource.changed_properties == ("scalingConfig", "tags")


def test_a_replacement_reported_as_three_steps_is_one_replace(engine_events):
    type_, name = "kubernetes:apps/v1:Deployment", "workloads-manifests:demo/demo"
    events = [
        engine_events.step("create-replacement", type_, name, diffs=["spec"], detailed_diff={"spec.selector.matchLabels.app": "update-replace"}, keys=["spec"]),
        engine_events.step("replace", type_, name, diffs=["spec"], detailed_diff={"spec.selector.matchLabels.app": "update-replace"}, keys=["spec"]),
        engine_events.step("delete-replaced", type_, name),
    ]

    summary = summarize_preview("dev", COMMIT, events)

    (resource,) = summary.resources
    assert resource.operation == "replace"
    assert resource.replacement_properties == ("spec", "spec.selector.matchLabels.app")
    # No summary event: counted from the steps, once.
    assert summary.counts == ChangeCounts(replace=1)
    assert summary.destructive == (resource,)


def test_counts_come_from_the_preview_result_when_given(engine_events):
    events = engine_events.replicas_change_and_configmap_delete()

    summary = summarize_preview("dev", COMMIT, events, change_summary={"same": 40, "update": 1, "delete": 1, "create": 2})

    assert summary.counts == ChangeCounts(create=2, update=1, replace=0, delete=1, same=40)


def test_counts_come_from_the_steps_without_a_summary_event(engine_events):
    events = [e for e in engine_events.replicas_change_and_configmap_delete() if e.summary_event is None]

    summary = summarize_preview("dev", COMMIT, events)

    assert summary.counts == ChangeCounts(update=1, delete=1, same=4)


def test_reads_and_other_events_are_not_changes(engine_events):
    events = [
        engine_events.event(stdoutEvent={"message": "Previewing update (dev)", "color": "never"}),
        engine_events.diagnostic("a warning", severity="warning"),
        engine_events.step("read", "aws:ec2/vpc:Vpc", "imported-vpc", parent=""),
        engine_events.step("create", "kubernetes:core/v1:Secret", "workloads-manifests:demo/token"),
    ]

    summary = summarize_preview("dev", COMMIT, events)

    assert [r.operation for r in summary.resources] == ["create"]
    assert summary.counts == ChangeCounts(create=1)


def test_the_diff_text_is_kept(engine_events):
    summary = summarize_preview("dev", COMMIT, [], diff_text="  ~ kubernetes:apps/v1:Deployment demo\n")

    assert summary.diff_text == "  ~ kubernetes:apps/v1:Deployment demo\n"


@pytest.mark.parametrize(
    ("urn", "name"),
    [
        ("urn:pulumi:dev::pulumi-gitops::pulumi-gitops:workloads:Workloads$kubernetes:yaml/v2:ConfigGroup$kubernetes:apps/v1:Deployment::workloads-manifests:demo/demo", "workloads-manifests:demo/demo"),
        ("urn:pulumi:dev::pulumi-gitops::aws:ec2/vpc:Vpc::net::with::colons", "net::with::colons"),
        ("not-a-urn", "not-a-urn"),
    ],
)
def test_name_from_urn(urn, name):
    assert name_from_urn(urn) == name


def test_failure_from_engine_error_diagnostics(engine_events):
    message = (
        "Program failed with an unhandled exception:\n"
        "manifest_loader.errors.ManifestError: 1 problem in the Kubernetes manifests:\n"
        "  manifests/deployment.yaml: document 1 (line 7): Deployment/demo: spec.replicas must be an integer."
    )
    events = [engine_events.diagnostic("warning: ignore me", severity="warning"), engine_events.diagnostic(message)]
    error = CommandError(CommandResult(stdout="Previewing update (dev)\n" + message, stderr="error: preview failed", code=255))

    summary = from_failure("dev", COMMIT, error, events=events)

    assert summary.failed
    assert summary.error == message
    # The whole CLI text is still there, as the output.
    assert "stderr: error: preview failed" in summary.diff_text
    assert summary.counts == ChangeCounts() and summary.resources == ()


def test_failure_from_an_exception_names_its_class():
    summary = from_failure("dev", COMMIT, ValueError("manifests/configmap.yaml: document 1: data must be a mapping."))

    assert summary.error == "ValueError: manifests/configmap.yaml: document 1: data must be a mapping."
    assert summary.diff_text == ""

