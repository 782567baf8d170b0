"""Pid files: a stale one (dead pid, or a pid now another program's) is
cleaned up without touching that program; stop escalates to SIGKILL."""

import json
import os
import re
import signal
import subprocess
import time

import pytest

from localenv import processes


def wait_gone(pid: int, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if processes.start_time(pid) is None:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def files(tmp_path):
    return tmp_path / "thing.pid", tmp_path / "thing.log"


def test_started_process_is_recognised_as_running(files):
    pid_file, log_file = files
    pid = processes.start(["sleep", "30"], pid_file, log_file)
    try:
        assert processes.running_pid(pid_file) == pid
        assert "started: sleep 30" in log_file.read_text()
    finally:
        processes.stop(pid_file)


def test_pid_file_of_a_killed_process_is_removed(files):
    pid_file, log_file = files
    pid = processes.start(["sleep", "30"], pid_file, log_file)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)

    assert processes.running_pid(pid_file) is None
    assert not pid_file.exists()


def test_pid_reused_by_an_unrelated_process_is_not_ours_and_is_left_alone(files):
    pid_file, _ = files
    unrelated = subprocess.Popen(["sleep", "30"])
    try:
        # What a pid file looks like when its process died and the kernel
        # gave the same pid to another program, which started later.
        record = {"pid": unrelated.pid, "start_time": processes.start_time(unrelated.pid) - 1,
                  "boot_id": processes.boot_id()}
        pid_file.write_text(json.dumps(record))

        assert processes.running_pid(pid_file) is None
        assert not pid_file.exists()
        pid_file.write_text(json.dumps(record))
        assert processes.stop(pid_file) is False
        assert unrelated.poll() is None, "the unrelated process must not be signalled"
    finally:
        unrelated.kill()
        unrelated.wait()


def test_pid_file_from_before_a_reboot_is_stale(files):
    pid_file, _ = files
    record = {"pid": os.getpid(), "start_time": processes.start_time(os.getpid()),
              "boot_id": "another-boot"}
    pid_file.write_text(json.dumps(record))

    assert processes.running_pid(pid_file) is None


def test_children_left_by_a_killed_process_are_stopped(files):
    pid_file, log_file = files
    leader = processes.start(["sh", "-c", "sleep 300 & echo child=$!; wait"], pid_file, log_file)
    deadline = time.monotonic() + 5
    while not re.search(r"child=\d+", log_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(re.search(r"child=(\d+)", log_file.read_text()).group(1))

    os.kill(leader, signal.SIGKILL)
    os.waitpid(leader, 0)
    assert processes.start_time(child) is not None, "the child outlives its parent"

    assert processes.running_pid(pid_file) is None
    assert wait_gone(child)


def test_stop_kills_a_process_that_ignores_sigterm(files):
    pid_file, log_file = files
    pid = processes.start(["sh", "-c", "trap '' TERM; echo trapped; sleep 300 & wait"],
                          pid_file, log_file)
    deadline = time.monotonic() + 5
    while "trapped\n" not in log_file.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)

    began = time.monotonic()
    assert processes.stop(pid_file, timeout=1) is True
    assert time.monotonic() - began < 10
    os.waitpid(pid, 0)
    assert processes.session_members(pid) == []
    assert not pid_file.exists()
