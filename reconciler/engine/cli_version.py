"""The Pulumi CLI with its version remembered between processes.

The SDK's PulumiCommand runs `pulumi version` whenever one is made: a CLI
start, 0.2-0.3 s of CPU. The service makes one when it starts, but
`python -m reconciler preview` is a whole process per preview. The version is
kept in the state directory next to the binary's identity (path, size, mtime,
inode): a CLI replaced or upgraded at the same path is asked again.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Optional

from pulumi import automation as auto
from semver import VersionInfo

from .json_file import read_json, replace_json


def remembered_pulumi_command(root: Optional[str], remembered: Path) -> auto.PulumiCommand:
    """Like auto.PulumiCommand(root), without running the CLI when `remembered` holds this binary's version."""
    command = os.path.join(root, "bin", "pulumi") if root else "pulumi"
    binary = _identity(command)
    known = read_json(remembered)
    if binary is not None and isinstance(known, dict) and known.get("binary") == binary:
        try:
            version = VersionInfo.parse(str(known.get("version")))
        except ValueError:
            pass
        else:
            cli = auto.PulumiCommand.__new__(auto.PulumiCommand)  # what __init__ sets, without `pulumi version`
            cli.command, cli.version = command, version
            return cli
    cli = auto.PulumiCommand(root=root)  # runs and validates `pulumi version`; raises for an unusable CLI
    if binary is not None and cli.version is not None:
        replace_json(remembered, {"binary": binary, "version": str(cli.version)})
    return cli


def _identity(command: str) -> Optional[list]:
    found = shutil.which(command)
    if found is None:
        return None
    path = os.path.realpath(found)
    info = os.stat(path)
    return [path, info.st_size, info.st_mtime_ns, info.st_ino]
