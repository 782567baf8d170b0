"""A stand-in `pulumi` executable for tests of the code that runs the CLI, not the engine.

It answers `version` as the pinned CLI does (so the SDK's version check passes), records the arguments of
every other call, then runs the bash snippet the test wrote to behaviour.sh: print lines, exit with a code,
hang, ignore SIGINT, start children, or kill itself with a signal.
"""

from __future__ import annotations

import time
from pathlib import Path

PINNED_VERSION = "v3.274.1"
_SCRIPT = """#!/bin/bash
here="$(cd "$(dirname "$0")/.." && pwd)"
if [ "$1" = "version" ]; then echo {version}; exit 0; fi
printf '%s\\n' "$@" > "$here/args"
[ -f "$here/behaviour.sh" ] && source "$here/behaviour.sh"
exit 0
"""


class StubPulumi:
    def __init__(self, root: Path, version: str = PINNED_VERSION) -> None:
        self.root = root
        self.command = root / "bin" / "pulumi"
        self.command.parent.mkdir(parents=True, exist_ok=True)
        self.command.write_text(_SCRIPT.format(version=version))
        self.command.chmod(0o755)

    def behave(self, snippet: str) -> None:
        (self.root / "behaviour.sh").write_text(snippet)

    def last_args(self) -> list[str]:
        return (self.root / "args").read_text().splitlines()


def process_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def gone_soon(pid: int, within_s: float = 5.0) -> bool:
    """True once the process has died (a SIGKILL is delivered asynchronously)."""
    deadline = time.monotonic() + within_s
    while process_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
