"""A missing program is named, with the remedy, before anything starts."""

import os
import subprocess
import sys

import pytest

from localenv import binaries
from localenv.errors import MissingBinary
from localenv.settings import load

PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_missing_program_says_to_run_make_tools(tmp_path, monkeypatch):
    monkeypatch.setenv("GITOPS_TOOLS_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(MissingBinary) as raised:
        binaries.find("kube-apiserver-that-does-not-exist", load())

    assert "kube-apiserver-that-does-not-exist not found" in str(raised.value)
    assert "run `make tools`" in str(raised.value)


def test_cached_tool_is_found_without_path(tmp_path, monkeypatch):
    version = binaries.pinned_versions()["KINE_VERSION"]
    program = tmp_path / f"kine-{version}" / "bin" / "kine"
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n")
    monkeypatch.setenv("GITOPS_TOOLS_CACHE", str(tmp_path))
    monkeypatch.setenv("PATH", "/nonexistent")

    assert binaries.find("kine", load()) == str(program)


def test_up_stops_at_the_first_missing_program_and_starts_nothing(tmp_path):
    env = {
        **os.environ,
        "GITOPS_TOOLS_CACHE": str(tmp_path / "empty-cache"),
        "GITOPS_STATE_DIR": str(tmp_path / "state"),
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run([sys.executable, "-m", "localenv", "up"], cwd=PROJECT_DIR, env=env,
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == 1
    assert "kine not found" in result.stderr
    assert "run `make tools`" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "state" / "pids").exists()


def test_a_comment_after_a_pinned_version_is_not_part_of_it(tmp_path):
    versions_file = tmp_path / "versions.env"
    versions_file.write_text('PULUMI_VERSION=3.274.1  # the CLI; why this one\nKINE_VERSION="0.17.5"\n')

    assert binaries.pinned_versions(versions_file) == {"PULUMI_VERSION": "3.274.1", "KINE_VERSION": "0.17.5"}
