"""The reconciler image's build inputs: the pinned tools linked from the tools cache, the wheels once per
requirements."""

import os

import pytest

from localenv import reconciler_inputs
from localenv.errors import LocalEnvError
from localenv.settings import load


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("GITOPS_TOOLS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GITOPS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(reconciler_inputs, "INPUTS_DIR", tmp_path / "node" / "reconciler-image")
    return load()


def fake_tools(settings):
    for path in reconciler_inputs.tool_files(settings):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"#!/bin/sh\n# {path.name}\n")


def test_a_missing_tool_is_named_with_the_remedy(settings):
    with pytest.raises(LocalEnvError, match=r"pulumi-resource-kubernetes.*run `make tools`"):
        reconciler_inputs.ensure(settings)


def test_tools_are_linked_and_cached_wheels_reused_without_a_download(settings):
    fake_tools(settings)
    wheels = reconciler_inputs._wheel_cache(settings)
    wheels.mkdir(parents=True)
    (wheels / "pip-23.2.1-py3-none-any.whl").write_bytes(b"wheel")
    stale = reconciler_inputs.inputs_dir() / "wheels" / "gone-1.0-py3-none-any.whl"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"from older requirements")

    outcome = reconciler_inputs.ensure(settings)

    tools = reconciler_inputs.inputs_dir() / "tools"
    assert "cached wheels" in outcome
    assert sorted(p.name for p in tools.iterdir()) == sorted(
        ["pulumi", "pulumi-language-python", "pulumi-language-python-exec",
         "pulumi-resource-kubernetes", "pulumi-resource-docker-build"]
    )
    # Hard links: the same file, not a second copy of hundreds of megabytes.
    assert all(os.path.samefile(tools / p.name, p) for p in reconciler_inputs.tool_files(settings))
    assert [p.name for p in stale.parent.iterdir()] == ["pip-23.2.1-py3-none-any.whl"]


def test_the_pins_become_constraints_without_extras():
    pins = "# tests\nmoto[server]==5.2.5\npulumi==3.272.0\n"

    assert reconciler_inputs.constraints_text(pins) == "# tests\nmoto==5.2.5\npulumi==3.272.0\n"


def test_a_fresh_tools_cache_gets_its_wheels_folder_and_a_failed_download_is_named(settings, monkeypatch):
    """A new machine's cache has no wheels folder yet: the download must reach pip, and pip's failure reads as one."""
    fake_tools(settings)
    monkeypatch.setattr(reconciler_inputs.sys, "executable", "/bin/false")

    with pytest.raises(LocalEnvError, match="downloading the reconciler image's wheels failed"):
        reconciler_inputs.ensure(settings)

    assert reconciler_inputs._wheel_cache(settings).parent.is_dir()
