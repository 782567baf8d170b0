"""POSIX ACLs that let one more user into a folder tree, now and for what is created there later, written
as the kernel's extended attributes (no `acl` package needed).

A folder's default ACL is copied to every file and folder created in it, and the creator's umask is then
not applied: a file the machine's engine writes (umask 077, mode 0666 asked) gets `user:UID:rw`, with
the group and others left out as before. A mode asked without group bits (an `os.open(..., 0o600)`)
masks the added user out again; `grant` run once more lets it back in.
"""

from __future__ import annotations

import os
import stat
import struct
from pathlib import Path

ACCESS = "system.posix_acl_access"
DEFAULT = "system.posix_acl_default"
_VERSION = 2
USER_OBJ, USER, GROUP_OBJ, MASK, OTHER = 0x01, 0x02, 0x04, 0x10, 0x20
_NO_ID = 0xFFFFFFFF
READ, WRITE, EXECUTE = 4, 2, 1


def encode(entries: list[tuple[int, int, int]]) -> bytes:
    """(tag, permissions, id) entries as the xattr's bytes, in the order the kernel requires (tag, then id)."""
    ordered = sorted(entries, key=lambda entry: (entry[0], entry[2]))
    return struct.pack("<I", _VERSION) + b"".join(struct.pack("<HHI", tag, perm, ident) for tag, perm, ident in ordered)


def decode(data: bytes) -> list[tuple[int, int, int]]:
    (version,) = struct.unpack_from("<I", data)
    if version != _VERSION:
        raise ValueError(f"POSIX ACL of version {version}, expected {_VERSION}")
    return [struct.unpack_from("<HHI", data, offset) for offset in range(4, len(data), 8)]


def entries(path: Path, name: str = ACCESS) -> list[tuple[int, int, int]]:
    """PATH's ACL (empty when it has none beyond its mode)."""
    try:
        return decode(os.getxattr(path, name, follow_symlinks=False))
    except OSError:
        return []


def user_permissions(path: Path, name: str = ACCESS) -> dict[int, int]:
    """The named users' entries of PATH's ACL, as {uid: permissions}."""
    return {ident: perm for tag, perm, ident in entries(path, name) if tag == USER}


def _with_user(owner: int, group: int, other: int, uid: int, perm: int) -> bytes:
    return encode([(USER_OBJ, owner, _NO_ID), (USER, perm, uid), (GROUP_OBJ, group, _NO_ID),
                   (MASK, perm | group, _NO_ID), (OTHER, other, _NO_ID)])


def _grant_one(path: Path, uid: int, write: bool, inherit: bool = True) -> None:
    mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode):
        return  # links have no ACL; their targets are granted where they live
    owner, group, other = (mode >> 6) & 7, (mode >> 3) & 7, mode & 7
    # With an ACL the mode's group bits are its mask: the owning group's own entry is in the ACL.
    group = next((perm for tag, perm, _ in entries(path) if tag == GROUP_OBJ), group)
    perm = READ | (WRITE if write else 0) | (EXECUTE if stat.S_ISDIR(mode) or owner & EXECUTE else 0)
    os.setxattr(path, ACCESS, _with_user(owner, group, other, uid, perm))
    if stat.S_ISDIR(mode) and inherit:
        # What is created inside: the owner's full rights (cut to the mode asked), UID's, nobody else's.
        os.setxattr(path, DEFAULT, _with_user(READ | WRITE | EXECUTE, 0, 0, uid, perm))
    elif stat.S_ISDIR(mode) and entries(path, DEFAULT):
        os.removexattr(path, DEFAULT)


def grant(path: Path, uid: int, write: bool, recursive: bool = True, inherit: bool = True) -> None:
    """Lets UID read (and write) PATH and, when RECURSIVE, everything under it; folders pass it on to what is
    created in them unless not to INHERIT. Symbolic links are not followed."""
    _grant_one(path, uid, write, inherit)
    if not (recursive and path.is_dir() and not path.is_symlink()):
        return
    for folder, folders, files in os.walk(path):
        for name in (*folders, *files):
            _grant_one(Path(folder) / name, uid, write)
