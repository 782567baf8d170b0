"""Run as root in fresh mount and PID namespaces (`unshare`), before a preview's Pulumi CLI: shape its view of the files.

    unshare --mount --pid --fork --mount-proc --propagation private -- \
        python -I -S jail.py SPEC_JSON -- setpriv ... -- pulumi ARGS

SPEC_JSON holds paths and ids only (never a secret, it is on argv):
  hide        folders a tmpfs covers (the state directory, every stack's backend, folders the user cannot enter)
  expose      {path: "ro" | "rw"}: what the CLI needs, mounted back in place after the hiding; "rw" stays writable,
              every other mount becomes read-only
  hide_files  files covered by /dev/null (other stacks' passphrase files, the webhook secret, Git keys)
  user        [uid, gid] the CLI will run as (setpriv switches to it), or null for root. With a user, each
              exposed path is idmapped: the files its owner (root, mostly) owns there read as that user's, and
              nothing else of that owner's does. What the user writes there lands on disk as the owner's.

Everything is undone by the kernel when the namespace's last process ends. Only
the standard library, so it starts in a few milliseconds with `-I -S`.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 32, 4096, 1024, 2048, 1 << 21
# Mount flags a read-only remount must keep (dropping a locked one is refused).
_KEPT_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "noatime": MS_NOATIME,
               "nodiratime": MS_NODIRATIME, "relatime": MS_RELATIME}
# linux/mount.h and the syscall numbers every architecture shares for these (since 5.2 and 5.12).
SYS_OPEN_TREE, SYS_MOVE_MOUNT, SYS_MOUNT_SETATTR = 428, 429, 442
OPEN_TREE_CLONE, AT_EMPTY_PATH, AT_FDCWD, MOVE_MOUNT_F_EMPTY_PATH = 1, 0x1000, -100, 4
MOUNT_ATTR_RDONLY, MOUNT_ATTR_IDMAP = 0x1, 0x100000
CLONE_NEWUSER = 0x10000000
# mountinfo writes a space as \040; nothing is imported lazily here, the interpreter's own folder may be covered by then.
_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")
_LIBC = ctypes.CDLL(None, use_errno=True)
_LIBC.syscall.restype = ctypes.c_long


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def _checked(result: int, what: str) -> int:
    if result < 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")
    return result


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    encoded = [value.encode() if value is not None else None for value in (source, target, fstype, data)]
    _checked(_LIBC.mount(encoded[0], encoded[1], encoded[2], flags, encoded[3]), f"mount {target}")


def _user_namespace(owner: tuple[int, int], user: tuple[int, int]) -> int:
    """A descriptor of a user namespace mapping `owner` to `user`: an idmapped mount with it shows owner's files as user's."""
    ready_read, ready_write = os.pipe()
    done_read, done_write = os.pipe()
    child = os.fork()
    if child == 0:
        os.write(ready_write, b"1" if _LIBC.unshare(CLONE_NEWUSER) == 0 else b"0")
        os.read(done_read, 1)
        os._exit(0)
    try:
        if os.read(ready_read, 1) != b"1":
            raise OSError("cannot create a user namespace for the preview user's idmapped mounts")
        for name, on_disk, seen_as in (("uid_map", owner[0], user[0]), ("gid_map", owner[1], user[1])):
            mapping = os.open(f"/proc/{child}/{name}", os.O_WRONLY)
            try:
                os.write(mapping, f"{on_disk} {seen_as} 1\n".encode())
            finally:
                os.close(mapping)
        return os.open(f"/proc/{child}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.write(done_write, b"1")
        os.waitpid(child, 0)


def _bind(handle: int, target: str, read_only: bool, userns: int | None) -> None:
    """Mount what `handle` points at on `target`; with `userns`, idmapped so root's files there belong to the user."""
    if userns is None:
        _mount(f"/proc/self/fd/{handle}", target, None, MS_BIND)
        return
    tree = _checked(_LIBC.syscall(SYS_OPEN_TREE, handle, b"", OPEN_TREE_CLONE | AT_EMPTY_PATH | os.O_CLOEXEC),
                    f"open_tree {target}")
    try:
        attr = _MountAttr(MOUNT_ATTR_IDMAP | (MOUNT_ATTR_RDONLY if read_only else 0), 0, 0, userns)
        _checked(_LIBC.syscall(SYS_MOUNT_SETATTR, tree, b"", AT_EMPTY_PATH, ctypes.byref(attr), ctypes.sizeof(attr)),
                 f"idmapped mount of {target} for the preview user (does its file system support idmapped mounts?)")
        _checked(_LIBC.syscall(SYS_MOVE_MOUNT, tree, b"", AT_FDCWD, target.encode(), MOVE_MOUNT_F_EMPTY_PATH),
                 f"move_mount {target}")
    finally:
        os.close(tree)


def _mount_point(path: str, handle: int) -> None:
    """Where a hidden path is mounted back: an empty folder or file, reachable by the preview user."""
    if os.path.lexists(path):
        return
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    if os.path.isdir(f"/proc/self/fd/{handle}"):
        os.mkdir(path, 0o755)
    else:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))


def _mount_points() -> list[tuple[str, int]]:
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        for line in mountinfo:
            fields = line.split()
            point = _OCTAL_ESCAPE.sub(lambda escape: chr(int(escape.group(1), 8)), fields[4])
            flags = sum(_KEPT_FLAGS.get(option, 0) for option in fields[5].split(","))
            points.append((point, flags))
    return points


def _read_only_except(writable: list[str]) -> None:
    keep = set(writable)
    for point, flags in _mount_points():
        # Kernel file systems: writing there needs capabilities the preview no longer has.
        if point in keep or any(point == top or point.startswith(top + "/") for top in ("/proc", "/sys")):
            continue
        # A mount inside a hidden folder is still listed, but no path leads to it any more: nothing to protect.
        if not os.path.lexists(point):
            continue
        _mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)


def _idmaps(handles: dict[str, int], user: tuple[int, int]) -> dict[str, int]:
    """For each exposed path, a user namespace mapping its owner to the user (one per owner)."""
    by_owner: dict[tuple[int, int], int] = {}
    idmaps = {}
    for path, handle in handles.items():
        info = os.fstat(handle)
        owner = (info.st_uid, info.st_gid)
        if owner not in by_owner:
            by_owner[owner] = _user_namespace(owner, user)
        idmaps[path] = by_owner[owner]
    return idmaps


def _mount_back(handles: dict[str, int], expose: dict[str, str], idmaps: dict[str, int]) -> None:
    """Each exposed path in place, parents first, idmapped when the CLI runs as a user."""
    for path in sorted(handles, key=_depth):
        _mount_point(path, handles[path])
        _bind(handles[path], path, expose[path] != "rw", idmaps.get(path))
        os.close(handles[path])


def _depth(path: str) -> int:
    return path.rstrip("/").count("/")


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: jail.py SPEC_JSON -- COMMAND...", file=sys.stderr)
        return 2
    try:
        _shape(json.loads(argv[0]))
    except OSError as error:
        print(f"preview jail: {error}", file=sys.stderr)
        return 126
    os.execvp(argv[2], argv[2:])
    return 127


def _shape(spec: dict) -> None:
    user = tuple(spec["user"]) if spec.get("user") else None
    expose: dict[str, str] = spec.get("expose", {})
    # Held open across the hiding: the kernel mounts what a descriptor points at, the original under the tmpfs.
    handles = {path: os.open(path, os.O_PATH | os.O_CLOEXEC) for path in expose if os.path.exists(path)}
    # Before the hiding: the interpreter running this may live in a folder it covers.
    idmaps = _idmaps(handles, user) if user else {}
    old_umask = os.umask(0o022)
    for folder in sorted(spec.get("hide", []), key=_depth):
        if os.path.isdir(folder):  # a folder inside one hidden already is gone
            _mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
    _mount_back(handles, expose, idmaps)
    os.umask(old_umask)
    for path in spec.get("hide_files", []):
        if os.path.isfile(path):
            _mount("/dev/null", path, None, MS_BIND)
    _read_only_except([path for path, mode in expose.items() if mode == "rw"])
    # The working directory was entered before the mounts: enter it again through them.
    os.chdir(os.getcwd())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
