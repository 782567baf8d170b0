"""Engine events as the CLI streams them (JSON), turned into the SDK's EngineEvent objects."""

from __future__ import annotations

from typing import Any, Optional

from pulumi.automation import EngineEvent

DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def urn(name: str, kind: str = DEPLOYMENT) -> str:
    return f"urn:pulumi:dev::tiny::{kind}::{name}"


def _step(op: str, name: str, keys: Optional[list[str]] = None) -> dict:
    metadata: dict[str, Any] = {"op": op, "urn": urn(name), "type": DEPLOYMENT, "provider": ""}
    if keys is not None:
        metadata["keys"] = keys
    return {"metadata": metadata}


def pre(op: str, name: str, keys: Optional[list[str]] = None) -> EngineEvent:
    return EngineEvent.from_json({"sequence": 1, "timestamp": 0, "resourcePreEvent": _step(op, name, keys)})


def done(op: str, name: str) -> EngineEvent:
    return EngineEvent.from_json({"sequence": 2, "timestamp": 0, "resOutputsEvent": _step(op, name)})


def failed(op: str, name: str) -> EngineEvent:
    event = {**_step(op, name), "status": 1, "steps": 1}
    return EngineEvent.from_json({"sequence": 3, "timestamp": 0, "resOpFailedEvent": event})


def diagnostic(message: str, severity: str = "error", name: Optional[str] = None) -> EngineEvent:
    event = {"message": message, "color": "never", "severity": severity}
    if name:
        event["urn"] = urn(name)
    return EngineEvent.from_json({"sequence": 4, "timestamp": 0, "diagnosticEvent": event})


def summary(changes: dict[str, int]) -> EngineEvent:
    return EngineEvent.from_json({"sequence": 5, "timestamp": 0, "summaryEvent": {"resourceChanges": changes}})
