"""Command line: python -m localenv up|down|status|env (see localenv/__init__.py)."""

import os
import shlex
import sys
import time

from . import (
    base_image,
    binaries,
    buildkit,
    control_plane,
    docker_engine,
    git_server,
    kubelet_node,
    kwok_nodes,
    node_power_off,
    node_runtime,
    pause_image,
    processes,
    reconciler_inputs,
    reconciler_node,
    registry,
)
from .certs import Pki
from .errors import LocalEnvError
from .kube_api import KubeApi, wait_node_ready
from .service import Service, ensure_running, stop
from .settings import REAL_NODE_NAME, Settings, load

# Needed by every `up`; dockerd, docker and debootstrap only when used.
REQUIRED_PROGRAMS = ["kine", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
                     "kwok", "docker-registry", "buildkitd", "runc", "openssl",
                     "kubelet", "pause", "containerd", "containerd-shim-runc-v2", "umount"]
# Node name -> the component whose log says why it is not Ready.
NODES = {kwok_nodes.NODE_NAME: kwok_nodes.NAME, REAL_NODE_NAME: kubelet_node.NAME}


def cluster_services(settings: Settings, pki: Pki) -> list[Service]:
    """The Kubernetes side, in start order."""
    return [
        control_plane.kine(settings),
        control_plane.apiserver(settings, pki),
        control_plane.controller_manager(settings, pki),
        control_plane.scheduler(settings),
        kwok_nodes.service(settings),
        node_runtime.service(settings, after_stop=lambda: node_power_off.power_off(settings)),
        kubelet_node.service(settings, pki),
    ]


def services(settings: Settings, pki: Pki) -> list[Service]:
    """Every managed service, in start order."""
    return [docker_engine.service(settings), registry.service(settings),
            buildkit.service(settings), git_server.service(settings), *cluster_services(settings, pki)]


def report(component: str, outcome: str, since: float | None = None) -> None:
    took = f" ({time.monotonic() - since:.1f}s)" if since is not None else ""
    print(f"{component:<24} {outcome}{took}", flush=True)


def timed(component: str, step) -> None:
    began = time.monotonic()
    report(component, step(), began)


def up(settings: Settings) -> int:
    for program in REQUIRED_PROGRAMS:
        binaries.find(program, settings)
    binaries.kwok_stages(settings)
    started = time.monotonic()

    docker_host, outcome = docker_engine.ensure(settings)
    report(docker_engine.NAME, outcome, started)
    timed(registry.NAME, lambda: ensure_running(registry.service(settings), settings))
    timed(base_image.NAME, lambda: base_image.ensure(settings, docker_host))
    timed(f"{base_image.NAME} (reconciler)", lambda: base_image.ensure(settings, docker_host, base_image.PYTHON_GIT))
    timed(buildkit.NAME, lambda: ensure_running(buildkit.service(settings), settings))
    timed(pause_image.NAME, lambda: pause_image.ensure(settings, docker_host))
    timed(reconciler_inputs.NAME, lambda: reconciler_inputs.ensure(settings))
    timed(reconciler_node.NAME, lambda: reconciler_node.ensure(settings))
    timed(git_server.NAME, lambda: ensure_running(git_server.service(settings), settings))

    pki = control_plane.prepare_credentials(settings)
    for service in cluster_services(settings, pki):
        timed(service.name, lambda: ensure_running(service, settings))

    def default_service_account() -> str:
        control_plane.wait_default_service_account(settings, pki)
        return "present"

    def kwok_node() -> str:
        outcome = kwok_nodes.ensure_node(settings, pki)
        wait_node_ready(settings, pki, kwok_nodes.NODE_NAME, kwok_nodes.NAME)
        return f"{outcome}, Ready"

    def real_node() -> str:
        wait_node_ready(settings, pki, REAL_NODE_NAME, kubelet_node.NAME)
        return "registered by the kubelet, Ready"

    timed("default ServiceAccount", default_service_account)
    timed(f"node {kwok_nodes.NODE_NAME}", kwok_node)
    timed(f"node {REAL_NODE_NAME}", real_node)
    print(f"\nready in {time.monotonic() - started:.1f}s; to use it:\n"
          f'  eval "$(python -m localenv env)"')
    return 0


def down(settings: Settings) -> int:
    for service in reversed(services(settings, Pki(settings.pki_dir))):
        report(service.name, "stopped" if stop(service, settings) else "was not running")
    return 0


def status(settings: Settings) -> int:
    pki = Pki(settings.pki_dir)
    healthy = True
    for service in services(settings, pki):
        pid = processes.running_pid(settings.pid_file(service.name))
        if service.name == docker_engine.NAME and pid is None:
            external = docker_engine.external_host(settings)
            if external:
                report(service.name, f"external engine at {external} (not managed here)")
                continue
        if pid is None:
            state, healthy = "stopped", False
        elif service.ready():
            state = f"running (pid {pid})"
        else:
            state, healthy = f"running (pid {pid}) but not ready", False
        report(service.name, state)
    if pki.cert("admin").exists() and KubeApi(settings, pki).is_ready():
        for node in NODES:
            ready = KubeApi(settings, pki).node_is_ready(node)
            healthy = healthy and ready
            report(f"node {node}", "Ready" if ready else "not Ready")
    return 0 if healthy else 1


def env(settings: Settings) -> int:
    exports = {
        "KUBECONFIG": str(settings.kubeconfig),
        "DOCKER_HOST": docker_engine.current_host(settings),
        "GITOPS_REGISTRY": settings.registry_address,
        "BUILDX_CONFIG": str(buildkit.buildx_config_dir(settings)),
        "BUILDX_BUILDER": buildkit.BUILDER_NAME,
    }
    for name, value in exports.items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


COMMANDS = {"up": up, "down": down, "status": status, "env": env}


# The state directory holds the cluster's CA and admin keys: nothing in it is for other users, from its creation on.
PRIVATE_UMASK = 0o077


def main(argv: list[str]) -> int:
    os.umask(PRIVATE_UMASK)
    if len(argv) != 1 or argv[0] not in COMMANDS:
        print(f"usage: python -m localenv {'|'.join(COMMANDS)}", file=sys.stderr)
        return 2
    try:
        return COMMANDS[argv[0]](load())
    except LocalEnvError as error:
        print(f"localenv {argv[0]}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"localenv {argv[0]}: interrupted; `python -m localenv down` stops what started",
              file=sys.stderr)
        return 130


def entry() -> None:
    """The `gitops-localenv` console script."""
    sys.exit(main(sys.argv[1:]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
