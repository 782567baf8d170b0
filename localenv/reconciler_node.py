"""What the reconciler's pods find on the node, at fixed paths (their manifests cannot know the state
directory): the state volume, the Pulumi backend and passphrase shared with the machine's own runs,
the BuildKit socket and a buildx builder for it.

    /var/lib/pulumi-gitops/reconciler-volume the PersistentVolume (deploy/reconciler/storage.yaml)
        pulumi-backend/, pulumi-passphrase   linked from <state>/pulumi-backend and -passphrase, the ones
                                             `make up` (reconciler.local.yaml) and scripts/pulumi-local.sh use
        buildx/instances/gitops-local        the builder the pods' docker-build uses
        machine-environment.json             what the program reads from this machine's environment
                                             (DOCKER_HOST), for the pods' runs to give the same inputs
        replicas/<pod>/                      each replica's state (written by the pods)
    /var/lib/pulumi-gitops/buildkitd.sock    a link to the environment's BuildKit socket

The folder is root's alone (0700): the pods run as root without capabilities, the owner of what the
machine's engine writes with umask 077 (README, "The reconciler in the cluster"). `down` keeps it, like
a disk.
"""

import base64
import json
import os
from pathlib import Path

from . import buildkit, docker_engine
from .settings import Settings

NAME = "reconciler-node"
NODE_DIR = Path("/var/lib/pulumi-gitops")
STATE_VOLUME = NODE_DIR / "reconciler-volume"
BUILDKIT_SOCKET_LINK = NODE_DIR / "buildkitd.sock"
# Where deployment.yaml mounts the socket in the pod.
POD_BUILDKIT_SOCKET = "/run/buildkit/buildkitd.sock"
SHARED = ("pulumi-backend", "pulumi-passphrase")


def _private_folder(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, 0, 0)
    path.chmod(0o700)


def _passphrase(path: Path) -> None:
    if path.is_file() and path.stat().st_size:
        return
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        handle.write(base64.b64encode(os.urandom(32)).decode())


def _relink(link: Path, target: Path) -> None:
    if link.is_symlink() and Path(os.readlink(link)) == target:
        return
    link.unlink(missing_ok=True)
    link.symlink_to(target)


def _owner(settings: Settings) -> Path:
    """The state directory the node's backend belongs to: the first to share it. Another one (a second clone
    on this machine) starts its own cluster, whose objects that backend does not describe."""
    record = STATE_VOLUME / "owner"
    if not record.is_file():
        record.write_text(str(settings.state_dir))
    return Path(record.read_text().strip())


def _share(settings: Settings, name: str) -> str:
    """Links <state>/NAME to the node's NAME when the state directory has none of its own yet."""
    mine, node = settings.state_dir / name, STATE_VOLUME / name
    owner = _owner(settings)
    if owner != settings.state_dir and not mine.is_symlink():
        return (f"{name} NOT shared (the node's belongs to the state directory {owner}; remove "
                f"{STATE_VOLUME / 'owner'} and run `up` again to give it to this one)")
    if mine.is_symlink() or not mine.exists():
        _relink(mine, node)
        return f"{name} shared"
    return f"{name} NOT shared ({mine} is the machine's own: move it to {node} and run `up` again to share it)"


def _builder(settings: Settings) -> None:
    """The buildx instance the pods' docker-build uses (BUILDX_CONFIG=/var/lib/reconciler/buildx)."""
    instances = STATE_VOLUME / "buildx" / "instances"
    instances.mkdir(parents=True, exist_ok=True)
    instance = buildkit.builder_instance(POD_BUILDKIT_SOCKET)
    (instances / buildkit.BUILDER_NAME).write_text(json.dumps(instance))


def _machine_environment(settings: Settings) -> None:
    """The program makes an explicit docker-build provider of DOCKER_HOST (`localenv env` exports it): a pod
    without it would change the images' provider, and so the images. The socket is not mounted: the
    images are built by the remote BuildKit builder, which never reaches the Docker engine."""
    environment = {"DOCKER_HOST": docker_engine.current_host(settings)}
    (STATE_VOLUME / "machine-environment.json").write_text(json.dumps(environment))


def ensure(settings: Settings) -> str:
    """Prepares the node's folder; says whether the backend is shared with the machine's runs."""
    _private_folder(NODE_DIR)
    _private_folder(STATE_VOLUME)
    (STATE_VOLUME / "pulumi-backend").mkdir(exist_ok=True)
    _passphrase(STATE_VOLUME / "pulumi-passphrase")
    _builder(settings)
    _machine_environment(settings)
    _relink(BUILDKIT_SOCKET_LINK, buildkit.socket_path(settings))
    return f"{STATE_VOLUME}: " + ", ".join(_share(settings, name) for name in SHARED)
