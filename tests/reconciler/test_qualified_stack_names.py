"""A stack named `org/project/stack` in the config: the CLI keeps its settings in Pulumi.<stack>.yaml, and so does the reconciler."""

from __future__ import annotations

import pytest

from reconciler_testing import TINY_PROJECT, json_lines, run_cli, tiny_stack, write_config

pytestmark = pytest.mark.e2e


def test_a_qualified_stack_name_uses_the_committed_stack_file_and_keeps_its_override_there(tmp_path, remote, engine_env):
    remote.commit("first", TINY_PROJECT)
    config = write_config(tmp_path / "reconciler.yaml", [tiny_stack(
        remote, tmp_path / "backend", stack="organization/tiny/dev", config={"tiny:token": {"secret_env": "TINY_TOKEN"}},
    )])

    result = run_cli("once", "--config", str(config), "--json", env={**engine_env, "TINY_TOKEN": "qualified-token"}, timeout=300)

    assert result.returncode == 0, result.stderr[-3000:]
    assert json_lines(result.stdout)[0]["result"] == "applied"
    checkout = tmp_path / "reconciler-state" / "workspaces" / "tiny" / "checkout"
    assert sorted(path.name for path in checkout.glob("Pulumi.*")) == ["Pulumi.dev.yaml", "Pulumi.yaml"]
    stack_file = (checkout / "Pulumi.dev.yaml").read_text()
    assert "tiny:greeting: hello" in stack_file and "tiny:token:\n    secure:" in stack_file
