"""The jail on a machine whose own mounts sit inside the folders it hides (CI mounts the Docker data root there)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.preview.sandbox import JAIL, NAMESPACES, namespaces_available

pytestmark = pytest.mark.skipif(not namespaces_available(), reason="needs root and util-linux namespaces")


def run_in_jail(tmp_path: Path, spec: dict, command: str) -> subprocess.CompletedProcess:
    """A private mount namespace of its own: the machine's mounts are never touched."""
    script = (f"mount -t tmpfs machine-mount {tmp_path}/state/docker/data && "
              f"mount -t tmpfs open-mount {tmp_path}/open && "
              f"exec {sys.executable} {JAIL} '{json.dumps(spec)}' -- sh -c '{command}'")
    return subprocess.run([*NAMESPACES, "sh", "-c", script], capture_output=True, text=True, timeout=60)


def test_a_mount_inside_a_hidden_folder_neither_stops_the_jail_nor_shows(tmp_path: Path):
    (tmp_path / "state" / "docker" / "data").mkdir(parents=True)
    (tmp_path / "open").mkdir()
    spec = {"hide": [str(tmp_path / "state")], "expose": {}}

    result = run_in_jail(tmp_path, spec, f"ls -A {tmp_path}/state; touch {tmp_path}/open/written")

    assert result.returncode != 126, result.stderr
    assert "preview jail" not in result.stderr
    assert result.stdout.strip() == "", "the hidden folder shows its contents"
    assert "Read-only file system" in result.stderr, "a mount outside the hidden folder stayed writable"
