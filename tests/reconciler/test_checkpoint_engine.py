"""What `checkpoints:` does to the real engine's state file when an update is SIGKILLed, on a project without providers.

The program registers its resources, waits until the engine has created them all, writes a marker and then
hangs: the engine is killed at that point. With checkpoints the state already records the new resources; without,
it is byte for byte what it was before the run, and the next pass recovers (refresh) and applies the head.
The cluster side (labels, the sweep, adoption) is in test_checkpoint_kills.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
from pathlib import Path

import pytest

from testsupport.process_tree import pulumi_update_below
from testsupport.reconciler_testing import (
    PROJECT_DIR,
    PYTHON,
    TINY_PROJECT,
    json_lines,
    run_cli,
    stack_locks,
    tiny_stack,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.e2e

# The tiny project's program, changed to hang only once the engine has created every Thing (their URNs resolve
# when their steps are done), after writing a marker the test waits for.
PROGRAM = textwrap.dedent("""\
    import time
    from pathlib import Path

    import pulumi

    things = [pulumi.ComponentResource("tiny:index:Thing", name) for name in Path("things.txt").read_text().split()]


    def hang(_):
        if Path("slow.txt").exists() and not pulumi.runtime.is_dry_run():
            Path(Path("slow.txt").read_text().strip()).write_text("created")
            time.sleep(600)


    pulumi.Output.all(*[thing.urn for thing in things]).apply(hang)
    """)


def things_in(state_file: Path) -> set[str]:
    resources = json.loads(state_file.read_text())["checkpoint"]["latest"]["resources"]
    return {r["urn"].rsplit("::", 1)[1] for r in resources if r["type"] == "tiny:index:Thing"}


@pytest.mark.parametrize("mode, recorded", [("always", {"a", "b", "c", "d", "e"}), ("skip", {"a", "b", "c"})])
def test_a_killed_update_leaves_the_state_it_started_from_only_without_checkpoints(remote, tmp_path, engine_env, mode, recorded):
    remote.commit("tiny project", {**TINY_PROJECT, "__main__.py": PROGRAM})
    backend = tmp_path / "backend"
    config = write_config(tmp_path / "reconciler.yaml", [tiny_stack(remote, backend, checkpoints=mode)])
    first = run_cli("once", "--config", str(config), "--json", env=engine_env)
    assert first.returncode == 0, first.stderr[-3000:]
    state_file = backend / ".pulumi" / "stacks" / "tiny" / "dev.json"
    before = state_file.read_bytes()
    marker = tmp_path / "created"
    remote.commit("two more things, then a hang", {"things.txt": "a\nb\nc\nd\ne\n", "slow.txt": str(marker)})

    once = subprocess.Popen([PYTHON, "-m", "reconciler", "once", "--config", str(config), "--json"], cwd=PROJECT_DIR,
                            env=engine_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(marker.exists, 300, "the engine to create every thing")
    os.kill(pulumi_update_below(once.pid), signal.SIGKILL)
    out, err = once.communicate(timeout=120)

    assert json_lines(out)[0]["reason"] == "Interrupted", err[-3000:]
    assert things_in(state_file) == recorded
    assert (state_file.read_bytes() == before) is (mode == "skip")
    remote.commit("no hang", {"slow.txt": None})
    again = run_cli("once", "--config", str(config), "--json", env=engine_env)

    assert json_lines(again.stdout)[0]["result"] == "applied", again.stderr[-3000:]
    assert ("the state refreshed (the run may have had no checkpoints)" in again.stderr) is (mode == "skip")
    assert things_in(state_file) == {"a", "b", "c", "d", "e"}
    assert not json.loads(state_file.read_text())["checkpoint"]["latest"].get("pending_operations")
    assert not stack_locks(backend)
