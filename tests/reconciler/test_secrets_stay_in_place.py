"""Secrets stay where they belong: never on a command line, never in a file other users can read.

The real engine, through a `pulumi` wrapper that records every argv it is
started with (what /proc/*/cmdline shows anyone on the machine), on the tiny
project with a secret config override.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from testsupport.reconciler_testing import TINY_PROJECT, run_cli, tiny_stack, write_config

pytestmark = pytest.mark.e2e
TOKEN = "override-token-never-on-argv-8e2d"

RECORDER = """#!/bin/sh
printf '%s\\0' "$@" >> {log}
printf '\\n' >> {log}
exec {real} "$@"
"""


@pytest.fixture
def recorded_run(tmp_path, remote, engine_env):
    """One `once` and one preview of the tiny stack with a secret override, the CLI's argv recorded."""
    real = next(Path(folder) / "pulumi" for folder in engine_env["PATH"].split(":") if (Path(folder) / "pulumi").is_file())
    log = tmp_path / "argv.log"
    wrapper = tmp_path / "wrapper" / "bin" / "pulumi"
    wrapper.parent.mkdir(parents=True)
    wrapper.write_text(RECORDER.format(log=log, real=real))
    wrapper.chmod(0o755)
    remote.commit("first", TINY_PROJECT)
    backend = tmp_path / "backend"
    # The wrapper runs the real CLI, which a preview's user is given only when named.
    config = write_config(tmp_path / "reconciler.yaml",
                          [tiny_stack(remote, backend, config={"tiny:token": {"secret_env": "TINY_TOKEN"}},
                                      preview_files=[str(real.parent)])],
                          pulumi=str(wrapper))
    env = {**engine_env, "TINY_TOKEN": TOKEN}
    result = run_cli("once", "--config", str(config), "--json", env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    previewed = run_cli("preview", "--config", str(config), "--stack", "tiny", "--ref", "main", env=env, timeout=300)
    assert previewed.returncode == 0, previewed.stderr[-3000:]
    return log, tmp_path / "reconciler-state", backend


def test_a_secret_override_reaches_the_stack_without_ever_being_on_a_command_line(recorded_run, engine_env):
    log, state_dir, _ = recorded_run

    # A preview's CLI calls run in its read-only namespace and cannot append here; `once` sets the override.
    calls = [call.split("\0") for call in log.read_text().splitlines() if call]
    assert any("config" in call and "--secret" in call for call in calls), "the override was set through the CLI"
    assert not [call for call in calls if any(TOKEN in arg for arg in call)]
    stack_files = list(state_dir.glob("workspaces/tiny/**/Pulumi.dev.yaml"))
    assert stack_files and all("secure:" in path.read_text() and TOKEN not in path.read_text() for path in stack_files)


def test_every_file_the_reconciler_and_its_engine_write_is_private_from_creation(recorded_run):
    _, state_dir, backend = recorded_run

    public = []
    for root in (state_dir, backend):
        for path in [root, *root.rglob("*")]:
            mode = path.lstat().st_mode
            if not stat.S_ISLNK(mode) and stat.S_IMODE(mode) & 0o077:
                public.append(f"{oct(stat.S_IMODE(mode))} {path}")
    assert public == [], "readable by other users:\n" + "\n".join(public[:20])
    assert (state_dir / "status.sqlite").exists() and any(backend.rglob("*.json")), "the walk saw the state"
    assert (state_dir / "previews" / "tiny" / "cache.git" / "HEAD").exists(), "and the preview cache"
