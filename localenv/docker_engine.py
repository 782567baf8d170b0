"""The Docker engine: reuse one that answers, else run Debian's dockerd.

A dockerd of our own keeps its data, exec root and socket under the state
directory. Its containers (BuildKit's RUN steps) get a bridge of their own,
gitops0, instead of docker0, and it adds no iptables rules and leaves IP
forwarding alone, so another Docker engine on the host is not disturbed.
Nothing reaches beyond the host from that bridge, and nothing needs to.
"""

import os
from pathlib import Path

from . import binaries, bridges, probes
from .service import Service, ensure_running, is_running
from .settings import Settings

NAME = "dockerd"
SYSTEM_SOCKET = "unix:///var/run/docker.sock"
BRIDGE = "gitops0"
BRIDGE_ADDRESS = "172.31.213.1/24"


def docker_dir(settings: Settings) -> Path:
    return settings.state_dir / "docker"


def own_host(settings: Settings) -> str:
    return f"unix://{docker_dir(settings) / 'docker.sock'}"


def ping(docker_host: str) -> bool:
    """True when the engine at DOCKER_HOST answers /_ping."""
    if docker_host.startswith("unix://"):
        return probes.unix_http_status(docker_host[len("unix://"):], "/_ping") == 200
    if docker_host.startswith("tcp://"):
        return probes.http_status(f"http://{docker_host[len('tcp://'):]}/_ping") == 200
    return False


def external_host(settings: Settings) -> str | None:
    """An engine someone else runs that answers: $DOCKER_HOST, then the system socket."""
    candidates = [os.environ.get("DOCKER_HOST", ""), SYSTEM_SOCKET]
    for host in candidates:
        if host and host != own_host(settings) and ping(host):
            return host
    return None


def service(settings: Settings) -> Service:
    root = docker_dir(settings)

    def argv() -> list[str]:
        (root / "data").mkdir(parents=True, exist_ok=True)
        (root / "run").mkdir(parents=True, exist_ok=True)
        bridges.create(settings, BRIDGE, BRIDGE_ADDRESS)
        # Left behind when dockerd was killed. While a pid in them names a
        # process (a zombie not yet reaped, or a reused pid), dockerd refuses
        # to start, or waits for that "containerd" until it times out.
        for stale in ("dockerd.pid", "containerd/containerd.pid"):
            (root / "run" / stale).unlink(missing_ok=True)
        return [
            binaries.find("dockerd", settings),
            "--data-root", str(root / "data"),
            "--exec-root", str(root / "run"),
            "--pidfile", str(root / "run" / "dockerd.pid"),
            "--host", own_host(settings),
            f"--bridge={BRIDGE}",
            "--iptables=false",
            "--ip-forward=false",
        ]

    return Service(NAME, argv, lambda: ping(own_host(settings)), stop_timeout=30,
                   after_stop=lambda: bridges.delete(settings, BRIDGE))


def ensure(settings: Settings) -> tuple[str, str]:
    """The DOCKER_HOST to use, and what was done to get it."""
    own = service(settings)
    if not is_running(own, settings):
        external = external_host(settings)
        if external:
            return external, f"reusing the engine at {external} (not managed here)"
    return own_host(settings), ensure_running(own, settings)


def current_host(settings: Settings) -> str:
    """The engine `up` uses now, without starting anything."""
    if is_running(service(settings), settings):
        return own_host(settings)
    return external_host(settings) or own_host(settings)
