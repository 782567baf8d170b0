"""What `down` does after stopping the kubelet and containerd: what a power-off does to a node.

Containers outlive both (each runs under a containerd-shim in a session of
its own), and their mounts (root filesystems, /dev/shm, network namespaces,
the kubelet's volumes) stay in the host's mount table. So, in order: kill
every process in the kubelet's pod cgroups, kill the shims of our containerd,
unmount everything under the node's state directory, empty what is only
valid while the node runs (containerd's state, like /run; the CNI address
leases), remove the pod cgroups and the pod bridge. The images and the
Node object stay: the next `up` is a reboot, and the kubelet starts its pods
again.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterator

from . import node_runtime, pod_network
from .errors import LocalEnvError
from .settings import Settings

CGROUP_ROOT = Path("/sys/fs/cgroup")
# The kubelet's pod cgroups with cgroupsPerQOS and the cgroupfs driver: in each hierarchy on
# cgroup v1 (this VM), at the root on v2.
POD_CGROUP = "kubepods"
KILL_TIMEOUT = 10
# The kubelet links each container's log here (a path it does not let one configure).
CONTAINER_LOG_LINKS = Path("/var/log/containers")


def pod_cgroups() -> list[Path]:
    """Every pod cgroup directory, deepest first."""
    hierarchies = [CGROUP_ROOT, *(path for path in CGROUP_ROOT.iterdir() if path.is_dir())]
    tops = [hierarchy / POD_CGROUP for hierarchy in hierarchies if (hierarchy / POD_CGROUP).is_dir()]
    # os.walk skips a folder removed while it walks (a pod ending now); Path.rglob raised.
    found = [Path(folder) for top in tops for folder, _, _ in os.walk(top)]
    return sorted(found, key=lambda path: len(path.parts), reverse=True)


def pod_processes() -> set[int]:
    pids: set[int] = set()
    for cgroup in pod_cgroups():
        try:
            pids.update(int(line) for line in (cgroup / "cgroup.procs").read_text().split())
        except FileNotFoundError:
            continue
    return pids


def command_lines() -> Iterator[tuple[int, list[bytes]]]:
    """(pid, argv) of every process that can be read."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        yield int(entry.name), argv


def shim_processes(settings: Settings) -> set[int]:
    """containerd-shim-runc-v2 processes started by our containerd (they name its socket)."""
    address = str(node_runtime.socket_path(settings)).encode()
    return {pid for pid, argv in command_lines() if argv[0].endswith(b"containerd-shim-runc-v2") and address in argv}


def _kill_until_gone(find, what: str) -> None:
    deadline = time.monotonic() + KILL_TIMEOUT
    while pids := find():
        if time.monotonic() > deadline:
            raise LocalEnvError(f"{what} still running after SIGKILL: pids {sorted(pids)}")
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)


def mounts_under(directory: Path) -> list[Path]:
    """Mount points at or below DIRECTORY, deepest first (each can then be unmounted in turn)."""
    prefix = str(directory.resolve())
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        # Field 5 is the mount point, with space, tab, newline and backslash octal-escaped.
        point = line.split()[4].encode().decode("unicode_escape")
        if point == prefix or point.startswith(prefix + "/"):
            points.append(Path(point))
    return sorted(points, key=lambda path: len(path.parts), reverse=True)


def unmount_all(directory: Path) -> None:
    # A path can be mounted over more than once (the kubelet's root dir is bind-mounted onto itself).
    while points := mounts_under(directory):
        result = subprocess.run(["umount", str(points[0])], capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise LocalEnvError(f"could not unmount {points[0]}: {result.stderr.strip()}; "
                                "stop what uses it and run `python -m localenv down` again")


def remove_log_links(settings: Settings) -> None:
    """The links into this node's pod logs, which go with the node's containers."""
    for link in CONTAINER_LOG_LINKS.glob("*.log"):
        if link.is_symlink() and os.readlink(link).startswith(f"{settings.node_dir}/"):
            link.unlink()
    with contextlib.suppress(OSError):  # the kubelet made it; kept if anything else is in it
        CONTAINER_LOG_LINKS.rmdir()


def other_kubelets(settings: Settings) -> set[int]:
    """Kubelets whose root directory is not this state directory's node (another clone's `up`)."""
    ours = f"--root-dir={settings.node_dir}/".encode()
    return {pid for pid, argv in command_lines()
            if argv[0].endswith(b"/kubelet") and not any(arg.startswith(ours) for arg in argv)}


def power_off(settings: Settings) -> None:
    """Powers off this state directory's node. The pod cgroups and the pod bridge are the machine's, not the state
    directory's: they are left alone when this state directory never ran a node or another one's kubelet runs
    (a `down` with another GITOPS_STATE_DIR killed the running node's pods)."""
    owns_the_node = settings.node_dir.exists() and not other_kubelets(settings)
    if owns_the_node:
        _kill_until_gone(pod_processes, "processes in the pod cgroups")
    _kill_until_gone(lambda: shim_processes(settings), "containerd shims")
    if settings.node_dir.exists():
        unmount_all(settings.node_dir)
    shutil.rmtree(node_runtime.state_dir(settings), ignore_errors=True)
    shutil.rmtree(pod_network.ipam_dir(settings), ignore_errors=True)
    remove_log_links(settings)
    if owns_the_node:
        for cgroup in pod_cgroups():
            os.rmdir(cgroup)
        pod_network.delete_bridge(settings)
