"""Engine events as the engine writes them, and a small GitHub that records every request (tests/fake_github.py)."""

from __future__ import annotations

from typing import Any, Iterator, Optional

import pytest
from pulumi.automation.events import EngineEvent

from testsupport.fake_github import FakeGitHub, serve_fake_github

PROJECT = "pulumi-gitops"
# Where the program puts the manifests: Workloads component > ConfigGroup > objects.
CONFIG_GROUP_PARENT = "pulumi-gitops:workloads:Workloads$kubernetes:yaml/v2:ConfigGroup"


class EngineEvents:
    """Builds `EngineEvent`s through the SDK's own `from_json`, from the JSON the engine's event log holds."""

    def __init__(self, stack: str = "dev") -> None:
        self.stack = stack
        self.sequence = 0
        self.provider = f"urn:pulumi:{stack}::{PROJECT}::pulumi:providers:kubernetes::cluster-k8s::0b8e6e2c-4c1e-4f4e-9a57-2f0d2c6f1a11"

    def urn(self, type_: str, name: str, parent: str = CONFIG_GROUP_PARENT) -> str:
        qualified = f"{parent}${type_}" if parent else type_
        return f"urn:pulumi:{self.stack}::{PROJECT}::{qualified}::{name}"

    def event(self, **payload: Any) -> EngineEvent:
        self.sequence += 1
        return EngineEvent.from_json({"sequence": self.sequence, "timestamp": 1767225600 + self.sequence, **payload})

    def step(
        self,
        op: str,
        type_: str,
        name: str,
        *,
        parent: str = CONFIG_GROUP_PARENT,
        diffs: Optional[list[str]] = None,
        detailed_diff: Optional[dict[str, str]] = None,
        keys: Optional[list[str]] = None,
        inputs: Optional[dict[str, Any]] = None,
        kind: str = "resourcePreEvent",
    ) -> EngineEvent:
        urn = self.urn(type_, name, parent)
        state = {
            "type": type_,
            "urn": urn,
            "id": name,
            "parent": self.urn("kubernetes:yaml/v2:ConfigGroup", "workloads-manifests", "pulumi-gitops:workloads:Workloads"),
            "provider": self.provider,
            "custom": True,
            "inputs": inputs or {},
            "outputs": {},
        }
        metadata: dict[str, Any] = {
            "op": op,
            "urn": urn,
            "type": type_,
            "provider": self.provider,
            "old": None if op == "create" else state,
            "new": None if op == "delete" else state,
        }
        if diffs is not None:
            metadata["diffs"] = diffs
        if detailed_diff is not None:
            metadata["detailedDiff"] = {path: {"diffKind": kind_, "inputDiff": True} for path, kind_ in detailed_diff.items()}
        if keys is not None:
            metadata["keys"] = keys
        return self.event(**{kind: {"metadata": metadata, "planning": True}})

    def summary(self, **changes: int) -> EngineEvent:
        return self.event(summaryEvent={"maybeCorrupt": False, "durationSeconds": 4, "resourceChanges": changes, "PolicyPacks": {}})

    def diagnostic(self, message: str, severity: str = "error") -> EngineEvent:
        return self.event(diagnosticEvent={"message": message, "color": "never", "severity": severity, "urn": self.urn("pulumi:pulumi:Stack", f"{PROJECT}-{self.stack}", "")})

    def replicas_change_and_configmap_delete(self) -> list[EngineEvent]:
        """The issue's example: a Deployment's replicas change and a ConfigMap is deleted; the rest is the same."""
        same = [
            ("pulumi:pulumi:Stack", f"{PROJECT}-{self.stack}", ""),
            ("pulumi-gitops:workloads:Workloads", "workloads", ""),
            ("kubernetes:core/v1:Namespace", "workloads-manifests:demo", CONFIG_GROUP_PARENT),
            ("kubernetes:core/v1:Service", "workloads-manifests:demo/demo", CONFIG_GROUP_PARENT),
        ]
        events = [self.event(preludeEvent={"config": {"pulumi-gitops:target": "local"}})]
        events += [self.step("same", type_, name, parent=parent) for type_, name, parent in same]
        events.append(
            self.step(
                "update",
                "kubernetes:apps/v1:Deployment",
                "workloads-manifests:demo/demo",
                diffs=["spec"],
                detailed_diff={"spec.replicas": "update"},
            )
        )
        events.append(self.step("delete", "kubernetes:core/v1:ConfigMap", "workloads-manifests:demo/demo-config"))
        # The engine also reports outputs for the steps during a preview; they must not count twice.
        events += [self.step("same", type_, name, parent=parent, kind="resOutputsEvent") for type_, name, parent in same]
        events.append(self.summary(same=4, update=1, delete=1))
        return events


@pytest.fixture
def engine_events() -> EngineEvents:
    return EngineEvents()


@pytest.fixture
def fake_github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    """A FakeGitHub served on 127.0.0.1 in a thread, with its token in $GITHUB_TOKEN."""
    with serve_fake_github() as github:
        monkeypatch.setenv("GITHUB_TOKEN", github.token)
        yield github
