"""Telling whether a loopback port is free, and who holds it if not."""

import errno
import os
import socket
from pathlib import Path

from .errors import PortInUse
from .settings import Port


def is_free(port: int, host: str = "127.0.0.1") -> bool:
    # SO_REUSEADDR as servers set it, so a port in TIME_WAIT counts as free.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def accepts_connections(port: int, host: str = "127.0.0.1", timeout: float = 1) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def unix_socket_accepts(path: Path, timeout: float = 1) -> bool:
    with socket.socket(socket.AF_UNIX) as client:
        client.settimeout(timeout)
        try:
            client.connect(str(path))
        except OSError:
            return False
    return True


def holder(port: int) -> str:
    """A description of the process listening on PORT, as far as /proc tells."""
    inodes = _listening_inodes(port)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    name = (proc / "comm").read_text().strip()
                    return f"{name} (pid {proc.name})"
        except OSError:
            continue
    return "another program"


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            fields = row.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            listening = fields[3] == "0A"
            if local_port == port and listening:
                inodes.add(fields[9])
    return inodes


def ensure_free(port: Port, component: str) -> None:
    if not is_free(port.number):
        raise PortInUse(port.number, component, holder(port.number), port.env_name)
