"""What a review stack test reads: the service's review stacks in /status, and the local cluster through kubectl."""

from __future__ import annotations

import json
import subprocess
from typing import Any


def review_stacks(service) -> list[dict[str, Any]]:
    status, body = service.get("/status")
    assert status == 200, body
    return json.loads(body)["review_stacks"]


def ready_at(service, commit: str) -> bool:
    """The (only) review stack is Ready at `commit`; a failure stops the wait with its message."""
    entries = review_stacks(service)
    if entries and entries[0]["status"] == "Failed":
        raise AssertionError(f"the review stack failed: {entries[0]['message']}")
    return bool(entries) and entries[0]["status"] == "Ready" and entries[0]["applied_commit"] == commit


def kubectl(local_env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["kubectl", "--kubeconfig", local_env["KUBECONFIG"], *args], capture_output=True, text=True, timeout=120)
