"""SupervisedCommand runs a real executable (a stub `pulumi`): output, classified failures, signals and deadlines."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from pulumi import automation as auto

from reconciler.engine.supervised_command import SupervisedCommand
from reconciler.errors import EngineInterrupted
from testsupport.stub_pulumi import StubPulumi, gone_soon


@pytest.fixture
def stub(tmp_path: Path) -> StubPulumi:
    return StubPulumi(tmp_path / "cli")


def run(stub: StubPulumi, args: list[str], deadline_s: float = 30, grace_s: float = 30, **callbacks):
    command = SupervisedCommand(str(stub.root), deadline_s=deadline_s, grace_s=grace_s)
    return command.run(args, cwd=str(stub.root), additional_env={"STUB_GREETING": "hi"}, **callbacks)


def test_output_lines_reach_the_callbacks_and_the_result(stub):
    stub.behave('echo "first $STUB_GREETING"\necho second\necho "a warning" >&2\n')
    out: list[str] = []
    err: list[str] = []
    result = run(stub, ["preview", "--stack", "dev"], on_output=out.append, on_error=err.append)
    assert out == ["first hi", "second"]
    assert err == ["a warning"]
    assert result.code == 0
    assert result.stdout == "first hi\nsecond"
    assert result.stderr == "a warning"


def test_the_cli_is_always_non_interactive(stub):
    run(stub, ["up", "--yes"])
    assert stub.last_args() == ["--non-interactive", "up", "--yes"]
    run(stub, ["--non-interactive", "up"])
    assert stub.last_args().count("--non-interactive") == 1
    # After `--` the arguments belong to the program, not to the CLI.
    run(stub, ["config", "set", "--", "--non-interactive"])
    assert stub.last_args() == ["--non-interactive", "config", "set", "--", "--non-interactive"]


def test_the_automation_api_marker_is_set(stub):
    stub.behave('echo "api=$PULUMI_AUTOMATION_API"\n')
    assert run(stub, ["whoami"]).stdout == "api=true"


def test_a_locked_stack_is_a_concurrent_update(stub):
    stub.behave('echo "error: the stack is currently locked by 1 lock(s). Either wait for the other process" >&2\nexit 255\n')
    with pytest.raises(auto.ConcurrentUpdateError) as raised:
        run(stub, ["up", "--yes"])
    assert "currently locked" in str(raised.value)


def test_a_program_that_raised_is_a_runtime_error(stub):
    stub.behave('echo "error: an unhandled error occurred: Program exited with non-zero exit code: 1"\nexit 1\n')
    with pytest.raises(auto.errors.RuntimeError):
        run(stub, ["up", "--yes"])


def test_any_other_failure_is_a_plain_command_error(stub):
    stub.behave('echo "error: something else" >&2\nexit 2\n')
    with pytest.raises(auto.CommandError) as raised:
        run(stub, ["refresh"])
    assert not isinstance(raised.value, EngineInterrupted)
    assert "something else" in str(raised.value)


def test_a_cli_killed_by_a_signal_is_interrupted_and_named(stub):
    stub.behave('echo "started"\nkill -KILL $$\n')
    with pytest.raises(EngineInterrupted) as raised:
        run(stub, ["up", "--yes"])
    assert raised.value.why == "signal"
    assert "SIGKILL" in raised.value.description
    assert "pulumi up" in raised.value.description


def test_children_of_a_killed_cli_are_killed_with_it(stub):
    # A plugin or language host left running would keep the stack's files and ports busy.
    stub.behave(f'sleep 300 >/dev/null 2>&1 </dev/null &\necho $! > "{stub.root}/child"\nkill -TERM $$\n')
    with pytest.raises(EngineInterrupted) as raised:
        run(stub, ["up"])
    assert "SIGTERM" in raised.value.description
    child = int((stub.root / "child").read_text())
    assert gone_soon(child)


def test_plugins_in_their_own_process_group_are_killed_with_a_killed_cli(stub):
    # The CLI starts each plugin as the leader of a process group of its own (the kubernetes provider lingered
    # for hours, ~200 MB each, after an OOM-killed `pulumi`); they stay in the CLI's session.
    stub.behave(f'python3 -c "import os; os.setpgid(0, 0); os.execvp(\'sleep\', [\'sleep\', \'300\'])" '
                f'>/dev/null 2>&1 </dev/null &\necho $! > "{stub.root}/plugin"\nsleep 0.5\nkill -KILL $$\n')
    with pytest.raises(EngineInterrupted):
        run(stub, ["up"])
    assert gone_soon(int((stub.root / "plugin").read_text()))


def test_a_child_holding_the_cli_output_does_not_keep_a_killed_run_waiting(stub):
    # The child inherits the CLI's stdout and stderr: the output is only complete once it is gone too.
    stub.behave(f'sleep 300 &\necho $! > "{stub.root}/child"\nkill -KILL $$\n')
    raised: list[BaseException] = []

    def call() -> None:
        try:
            run(stub, ["up"])
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            raised.append(error)

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    caller.join(timeout=30)  # far less than the child's 300 s
    assert not caller.is_alive(), "run() still waits for the output of a killed CLI's child"
    assert isinstance(raised[0], EngineInterrupted) and raised[0].why == "signal"
    assert gone_soon(int((stub.root / "child").read_text()))


def test_a_hung_cli_is_interrupted_at_its_deadline(stub):
    mark = stub.root / "got-sigint"
    stub.behave(f'trap \'echo interrupted > "{mark}"; exit 1\' INT\nwhile true; do sleep 0.05; done\n')
    started = time.monotonic()
    with pytest.raises(EngineInterrupted) as raised:
        run(stub, ["up", "--yes"], deadline_s=0.5, grace_s=20)
    assert raised.value.why == "deadline"
    assert "pulumi up" in raised.value.description and "deadline" in raised.value.description
    assert mark.read_text().strip() == "interrupted"  # SIGINT first: the engine may finish its steps
    assert time.monotonic() - started < 10  # it stopped on SIGINT, long before the grace ran out


def test_a_cli_that_ignores_sigint_is_killed_after_the_grace(stub):
    stub.behave(f'trap "" INT\nsleep 300 >/dev/null 2>&1 </dev/null &\necho $! > "{stub.root}/child"\n'
                'while true; do sleep 0.05; done\n')
    started = time.monotonic()
    with pytest.raises(EngineInterrupted) as raised:
        run(stub, ["refresh"], deadline_s=0.3, grace_s=0.3)
    assert raised.value.why == "deadline"
    assert time.monotonic() - started < 10
    assert gone_soon(int((stub.root / "child").read_text()))


def test_a_cli_that_ends_in_time_is_not_interrupted(stub):
    stub.behave("sleep 0.2\necho done\n")
    assert run(stub, ["up"], deadline_s=10, grace_s=0.1).stdout == "done"


def test_a_fence_stops_a_cli_that_ignores_sigint_within_its_grace(stub):
    # A replica about to lose the stack's Lease: its CLI (and the CLI's children) must be gone within the kill grace.
    stub.behave(f'trap "" INT\nsleep 300 >/dev/null 2>&1 </dev/null &\necho $! > "{stub.root}/child"\n'
                'while true; do sleep 0.05; done\n')
    fenced_at: list[float] = []

    def fence():
        if not (stub.root / "child").exists():
            return None
        fenced_at.append(fenced_at[0] if fenced_at else time.monotonic())
        return "the Lease runs out"
    command = SupervisedCommand(str(stub.root), deadline_s=300, grace_s=300)
    command.fence_with(fence, grace_s=0.5)
    with pytest.raises(EngineInterrupted) as raised:
        command.run(["up", "--yes"], cwd=str(stub.root), additional_env={})
    assert raised.value.why == "fence" and "the Lease runs out" in raised.value.description
    assert time.monotonic() - fenced_at[0] < 5  # the grace (0.5 s), not the deadline's 300 s
    assert gone_soon(int((stub.root / "child").read_text()))


def test_an_open_fence_leaves_the_cli_alone(stub):
    stub.behave("sleep 0.5\necho done\n")
    command = SupervisedCommand(str(stub.root), deadline_s=10, grace_s=0.1)
    command.fence_with(lambda: None, grace_s=0.1)
    assert command.run(["up"], cwd=str(stub.root), additional_env={}).stdout == "done"
