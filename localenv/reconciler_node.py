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
    /var/lib/pulumi-gitops/reconciler-image  the image's build inputs (reconciler_inputs.py)

The folders stay root's (0700), and the pods' user (the image's 65532) gets in through POSIX ACLs
(posix_acl.py): read and write on the volume, whose folders pass it on to what the machine's engine
writes there under umask 077 (a default ACL overrides the umask), read on the image's inputs, write on
the BuildKit socket. Nobody else gets in. `down` keeps the volume, like a disk.
"""

import base64
import json
import os
from pathlib import Path

from . import buildkit, docker_engine, posix_acl
from .settings import Settings

NAME = "reconciler-node"
NODE_DIR = Path("/var/lib/pulumi-gitops")
STATE_VOLUME = NODE_DIR / "reconciler-volume"
# What the reconciler's image is built from (reconciler_inputs.py), mounted read-only in the pods.
IMAGE_INPUTS = NODE_DIR / "reconciler-image"
BUILDKIT_SOCKET_LINK = NODE_DIR / "buildkitd.sock"
# Where deployment.yaml mounts the socket in the pod.
POD_BUILDKIT_SOCKET = "/run/buildkit/buildkitd.sock"
SHARED = ("pulumi-backend", "pulumi-passphrase")
# The pods' user (deploy/reconciler/Dockerfile, deployment.yaml).
POD_UID = 65532
# The replicas' own folders, each its pod's alone: not walked, and nothing passed on to them. Their Git checkouts
# are the image's build contexts: an ACL there would reach the image (BuildKit copies it: files 0660, not 0755).
REPLICAS = "replicas"


def _private_folder(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, 0, 0)
    # With an ACL the group bits are its mask, which lets the pods' user in: kept.
    mask = path.stat().st_mode & 0o070 if posix_acl.entries(path) else 0
    path.chmod(0o700 | mask)


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


def _let_the_pods_in(settings: Settings) -> None:
    """The pods' user reads and writes the volume (the replicas' folders are theirs already), reads the image's
    inputs and connects to BuildKit. Run on every `up`: what was written without the ACL (before it, or asked
    with mode 0600) is let in again."""
    posix_acl.grant(STATE_VOLUME, POD_UID, write=True, recursive=False)
    for entry in STATE_VOLUME.iterdir():
        theirs = entry.name == REPLICAS
        posix_acl.grant(entry, POD_UID, write=True, recursive=not theirs, inherit=not theirs)
    if IMAGE_INPUTS.is_dir():
        posix_acl.grant(IMAGE_INPUTS, POD_UID, write=False)
    if buildkit.socket_path(settings).exists():  # made again by each start of buildkitd, which `up` runs before this
        posix_acl.grant(buildkit.socket_path(settings), POD_UID, write=True)


def ensure(settings: Settings) -> str:
    """Prepares the node's folder; says whether the backend is shared with the machine's runs."""
    _private_folder(NODE_DIR)
    _private_folder(STATE_VOLUME)
    for folder in ("pulumi-backend", REPLICAS):
        (STATE_VOLUME / folder).mkdir(mode=0o700, exist_ok=True)
    _passphrase(STATE_VOLUME / "pulumi-passphrase")
    _builder(settings)
    _machine_environment(settings)
    _relink(BUILDKIT_SOCKET_LINK, buildkit.socket_path(settings))
    shared = ", ".join(_share(settings, name) for name in SHARED)
    _let_the_pods_in(settings)
    return f"{STATE_VOLUME}: {shared}"
