"""What `down` leaves of the real node: real mounts are unmounted deepest first, shims are found and killed."""

import os
import subprocess
import sys
import time

import pytest

from localenv import node_power_off, node_runtime
from localenv.settings import load

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("GITOPS_STATE_DIR", str(tmp_path / "state"))
    return load()


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, timeout=30)


@needs_root
def test_nested_and_stacked_mounts_are_all_unmounted(tmp_path):
    node = tmp_path / "node"
    volume = node / "kubelet" / "pods" / "uid" / "volumes" / "token dir"
    volume.mkdir(parents=True)
    sibling = tmp_path / "node-other"
    sibling.mkdir()
    # As the kubelet does: its root bind-mounted onto itself, a tmpfs volume inside, and one
    # path mounted twice over.
    mount("--bind", str(node / "kubelet"), str(node / "kubelet"))
    mount("-t", "tmpfs", "tmpfs", str(volume))
    mount("-t", "tmpfs", "tmpfs", str(volume))
    mount("-t", "tmpfs", "tmpfs", str(sibling))
    try:
        found = node_power_off.mounts_under(node)
        assert found[-1] == node / "kubelet" and found.count(volume) == 2, "deepest first, spaces decoded"

        node_power_off.unmount_all(node)

        assert node_power_off.mounts_under(node) == []
        assert volume.is_dir(), "the mount point itself stays"
        assert node_power_off.mounts_under(sibling) == [sibling], "a name that only starts the same is not under it"
    finally:
        for point in node_power_off.mounts_under(tmp_path):
            subprocess.run(["umount", "-l", str(point)], capture_output=True, timeout=30)


def start_fake_shim(address: str) -> subprocess.Popen:
    """A process with a shim's name and arguments, as /proc shows them."""
    return subprocess.Popen(
        ["bash", "-c", f'exec -a /usr/bin/containerd-shim-runc-v2 {sys.executable} -c "import time; '
                       f'time.sleep(60)" -namespace k8s.io -id abc -address {address}'])


def test_only_the_shims_of_our_containerd_are_found(settings, tmp_path):
    ours = start_fake_shim(str(node_runtime.socket_path(settings)))
    another = start_fake_shim(str(tmp_path / "another" / "containerd.sock"))
    try:
        deadline = time.monotonic() + 5
        while ours.pid not in node_power_off.shim_processes(settings) and time.monotonic() < deadline:
            time.sleep(0.05)

        assert node_power_off.shim_processes(settings) == {ours.pid}
    finally:
        ours.kill()
        another.kill()
        ours.wait()
        another.wait()


@needs_root
def test_a_down_of_another_state_directory_leaves_the_running_nodes_pods_alone(settings):
    # `settings` is a state directory that never ran a node: its `down` must not kill what runs in the
    # machine's pod cgroups (the real node of another state directory). Without the check it did.
    pids_root = node_power_off.CGROUP_ROOT / "pids"
    if not pids_root.is_dir():
        pytest.skip("no cgroup v1 pids hierarchy")
    top = pids_root / node_power_off.POD_CGROUP
    created_top = not top.exists()
    pod = top / f"power-off-test-{os.getpid()}"
    pod.mkdir(parents=True)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        (pod / "cgroup.procs").write_text(str(sleeper.pid))
        assert sleeper.pid in node_power_off.pod_processes()

        node_power_off.power_off(settings)  # kills and waits until gone what it kills

        assert sleeper.poll() is None, "a process in the pod cgroups was killed by another state directory's down"
        assert pod.is_dir()
    finally:
        sleeper.kill()
        sleeper.wait()
        pod.rmdir()
        if created_top:
            top.rmdir()
