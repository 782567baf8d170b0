"""Linux bridges of our own (dockerd's, the real node's pods'), made and removed with `ip`."""

import subprocess
from pathlib import Path

from . import binaries
from .errors import LocalEnvError
from .settings import Settings


def _ip(settings: Settings, name: str, *args: str) -> None:
    argv = [binaries.find("ip", settings), *args]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    if result.returncode != 0:
        raise LocalEnvError(f"`{' '.join(argv)}` failed (the bridge {name} needs root): "
                            f"{result.stderr.strip()}")


def exists(name: str) -> bool:
    return Path(f"/sys/class/net/{name}").exists()


def create(settings: Settings, name: str, address: str) -> None:
    """Bridge NAME holding ADDRESS (CIDR notation), up; kept as it is when it exists."""
    if not exists(name):
        _ip(settings, name, "link", "add", name, "type", "bridge")
        _ip(settings, name, "addr", "add", address, "dev", name)
    _ip(settings, name, "link", "set", name, "up")


def delete(settings: Settings, name: str) -> None:
    if exists(name):
        _ip(settings, name, "link", "delete", name)
