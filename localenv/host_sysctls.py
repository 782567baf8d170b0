"""The host's kernel settings the kubelet changes on start, put back by `down`.

The kubelet sets vm.overcommit_memory=1, vm.panic_on_oom=0, kernel.panic=10, kernel.panic_on_oops=1 and the
root key quotas (pkg/kubelet/cm/container_manager_linux.go, setupKernelTunables) as a node needs; on a
developer's machine a kernel oops would then reboot it. Their values are saved before the kubelet's first
start (not over a saved copy: a restart after a crash would save the kubelet's own) and written back after
it stops.
"""

import json
from pathlib import Path

KUBELET_SYSCTLS = ("vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
                   "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes")
PROC_SYS = Path("/proc/sys")


def save_once(saved: Path, proc_sys: Path = PROC_SYS) -> None:
    """Records the current values in `saved`, unless a copy from an earlier start is still there."""
    if saved.exists():
        return
    values = {name: (proc_sys / name).read_text().strip() for name in KUBELET_SYSCTLS if (proc_sys / name).exists()}
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(values, indent=2) + "\n")


def restore(saved: Path, proc_sys: Path = PROC_SYS) -> list[str]:
    """Writes the saved values back and forgets them; returns what changed as `name: kubelet's -> host's`."""
    if not saved.exists():
        return []
    changed = []
    for name, value in json.loads(saved.read_text()).items():
        path = proc_sys / name
        current = path.read_text().strip()
        if current != value:
            path.write_text(value + "\n")
            changed.append(f"{name.replace('/', '.')}: {current} -> {value}")
    saved.unlink()
    return changed
