"""Run as root in fresh mount and PID namespaces (`unshare`), before a preview's Pulumi CLI: shape its view of the files.

    unshare --mount --pid --fork --mount-proc --propagation private -- \
        python -I -S jail.py SPEC_JSON -- setpriv ... -- pulumi ARGS

SPEC_JSON holds paths only (never a secret, it is on argv):
  hide_dirs   {folder: [paths under it to keep]}: a tmpfs covers the folder, the kept paths are mounted back
  hide_files  files covered by /dev/null (other stacks' passphrase files, the webhook secret, Git keys)
  writable    folders left writable (the preview's own run folder); every other mount becomes read-only

Everything is undone by the kernel when the namespace's last process ends. Only
the standard library, so it starts in a few milliseconds with `-I -S`.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 32, 4096, 1024, 2048, 1 << 21
# Mount flags a read-only remount must keep (dropping a locked one is refused).
_KEPT_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "noatime": MS_NOATIME,
               "nodiratime": MS_NODIRATIME, "relatime": MS_RELATIME}
_LIBC = ctypes.CDLL(None, use_errno=True)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    encoded = [value.encode() if value is not None else None for value in (source, target, fstype, data)]
    if _LIBC.mount(encoded[0], encoded[1], encoded[2], flags, encoded[3]) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"mount {target}: {os.strerror(error)}")


def _hide_dir(folder: str, keep: list[str]) -> None:
    if not os.path.isdir(folder):
        return
    # Held open across the tmpfs mount: the kernel binds what the descriptor points at, the hidden original.
    handles = {path: os.open(path, os.O_PATH) for path in keep if os.path.exists(path)}
    _mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
    for path, handle in handles.items():
        if os.path.isdir(f"/proc/self/fd/{handle}"):
            os.makedirs(path, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            open(path, "a").close()
        _mount(f"/proc/self/fd/{handle}", path, None, MS_BIND)
        os.close(handle)


def _mount_points() -> list[tuple[str, int]]:
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        for line in mountinfo:
            fields = line.split()
            point = fields[4].encode().decode("unicode_escape")
            flags = sum(_KEPT_FLAGS.get(option, 0) for option in fields[5].split(","))
            points.append((point, flags))
    return points


def _read_only_except(writable: list[str]) -> None:
    for folder in writable:
        _mount(folder, folder, None, MS_BIND)
    keep = set(writable)
    for point, flags in _mount_points():
        # Kernel file systems: writing there needs capabilities the preview no longer has.
        if point in keep or any(point == top or point.startswith(top + "/") for top in ("/proc", "/sys")):
            continue
        _mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: jail.py SPEC_JSON -- COMMAND...", file=sys.stderr)
        return 2
    spec = json.loads(argv[0])
    for folder, keep in spec.get("hide_dirs", {}).items():
        _hide_dir(folder, keep)
    for path in spec.get("hide_files", []):
        if os.path.isfile(path):
            _mount("/dev/null", path, None, MS_BIND)
    _read_only_except(spec.get("writable", []))
    os.execvp(argv[2], argv[2:])
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
