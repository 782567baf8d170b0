"""`promote_from`, `soak` and `require_healthy` in the config: chains and fan-outs are read, broken links are refused.

A broken link (an unknown stack, a stack promoting from itself, a cycle, another repository) is a config
problem like any other: load_config names the file, the stack and what to write, and the CLI exits 2.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from reconciler.settings import ConfigError, load_config
from testsupport.reconciler_testing import PROJECT_DIR, PYTHON, GitRemote, tiny_stack, write_config


@pytest.fixture
def stack(remote, tmp_path):
    def make(name: str, **overrides):
        return tiny_stack(remote, tmp_path / "backend", secrets_passphrase=None, name=name, stack=name, **overrides)

    return make


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(path) in str(raised.value)
    return list(raised.value.problems)


def test_a_chain_and_a_fan_out_are_read_with_their_soak_and_health_rule(tmp_path, stack):
    path = write_config(tmp_path / "reconciler.yaml", [
        stack("dev"),
        stack("staging", promote_from="dev", soak="10m"),
        stack("prod", promote_from="staging", soak="1h30m", require_healthy=True),
        stack("perf", promote_from="dev"),
    ])

    specs = {spec.name: spec for spec in load_config(path).stacks}

    assert {name: (spec.promote_from, spec.soak, spec.require_healthy) for name, spec in specs.items()} == {
        "dev": (None, 0.0, False),
        "staging": ("dev", 600.0, False),
        "prod": ("staging", 5400.0, True),
        "perf": ("dev", 0.0, False),
    }


def test_an_unknown_upstream_is_named_with_the_closest_stack(tmp_path, stack):
    path = write_config(tmp_path / "reconciler.yaml", [stack("staging"), stack("prod", promote_from="stagign")])

    assert problems_of(path) == ["stacks (prod): promote_from: 'stagign' is not a stack of this file; did you mean 'staging'?"]


def test_a_stack_cannot_promote_from_itself(tmp_path, stack):
    path = write_config(tmp_path / "reconciler.yaml", [stack("prod", promote_from="prod")])

    [problem] = problems_of(path)
    assert problem.startswith("stacks (prod): promote_from: a stack cannot promote from itself")


@pytest.mark.parametrize("links, cycle", [
    ({"a": "b", "b": "a"}, "a -> b -> a"),
    ({"dev": "prod", "staging": "dev", "prod": "staging"}, "dev -> prod -> staging -> dev"),
])
def test_a_cycle_is_named_once_from_its_first_stack(tmp_path, stack, links, cycle):
    path = write_config(tmp_path / "reconciler.yaml", [stack(name, promote_from=upstream) for name, upstream in links.items()])

    assert problems_of(path) == [f"stacks: promote_from makes a cycle, {cycle}; remove promote_from from one of them"]


def test_a_stack_leading_into_a_cycle_is_not_a_second_cycle(tmp_path, stack):
    path = write_config(tmp_path / "reconciler.yaml", [
        stack("a", promote_from="b"), stack("b", promote_from="a"), stack("c", promote_from="a"),
    ])

    assert [problem for problem in problems_of(path) if "cycle" in problem] == [
        "stacks: promote_from makes a cycle, a -> b -> a; remove promote_from from one of them"
    ]


def test_an_upstream_of_another_repository_is_refused(tmp_path, stack):
    other = GitRemote(tmp_path / "other")
    path = write_config(tmp_path / "reconciler.yaml", [
        stack("dev", repo={"url": str(other.bare)}), stack("prod", promote_from="dev"),
    ])

    [problem] = problems_of(path)
    assert problem.startswith("stacks (prod): promote_from: 'dev' tracks another repository")
    assert str(other.bare) in problem and "promotion compares commits of one repository" in problem


@pytest.mark.parametrize("written", [{"soak": "5m"}, {"require_healthy": True}])
def test_soak_or_require_healthy_without_an_upstream_is_refused(tmp_path, stack, written):
    path = write_config(tmp_path / "reconciler.yaml", [stack("prod", **written)])

    [problem] = problems_of(path)
    assert problem.startswith(f"stacks[0] (prod): {next(iter(written))} only apply with promote_from")


@pytest.mark.parametrize("written, expected", [
    ({"soak": "soon"}, "stacks[1] (prod): soak: 'soon' is not a duration"),
    ({"require_healthy": "yes"}, "stacks[1] (prod): require_healthy: must be true or false"),
])
def test_a_bad_soak_or_health_rule_is_named(tmp_path, stack, written, expected):
    path = write_config(tmp_path / "reconciler.yaml", [stack("dev"), stack("prod", promote_from="dev", **written)])

    assert any(problem.startswith(expected) for problem in problems_of(path)), problems_of(path)


def test_the_cli_exits_2_naming_the_file_and_the_cycle(tmp_path, stack):
    path = write_config(tmp_path / "reconciler.yaml", [stack("a", promote_from="b"), stack("b", promote_from="a")])

    done = subprocess.run([PYTHON, "-m", "reconciler", "once", "--config", str(path)], cwd=PROJECT_DIR,
                          env={**os.environ, "PYTHONPATH": str(PROJECT_DIR)}, capture_output=True, text=True, timeout=60)

    assert done.returncode == 2
    assert str(path) in done.stderr and "a -> b -> a" in done.stderr
