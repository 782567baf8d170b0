"""The pod sandbox image: the `pause` program built with the kubelet, pushed to the local registry.

registry.k8s.io cannot be reached, so containerd's sandbox_image names this
one. It holds one static binary, from the same Kubernetes release as the
kubelet (tools/kubernetes/kubernetes.sh), and is made once per registry.
"""

import tarfile
import tempfile
from pathlib import Path

from . import binaries, registry
from .image_import import import_and_push
from .settings import Settings

NAME = "pause-image"
REPOSITORY = "kubernetes/pause"


def tag() -> str:
    return binaries.pinned_versions()["KUBERNETES_VERSION"]


def image_name(settings: Settings) -> str:
    return f"{settings.registry_address}/{REPOSITORY}:{tag()}"


def _write_tarball(pause: Path, target: Path) -> None:
    with tarfile.open(target, "w") as archive:
        entry = tarfile.TarInfo("pause")
        entry.size = pause.stat().st_size
        entry.mode = 0o755
        with pause.open("rb") as program:
            archive.addfile(entry, program)


def ensure(settings: Settings, docker_host: str) -> str:
    if registry.has_image(settings, REPOSITORY, tag()):
        return "already in the registry"
    pause = Path(binaries.find("pause", settings))
    name = image_name(settings)
    with tempfile.TemporaryDirectory() as work:
        tarball = Path(work) / "pause.tar"
        _write_tarball(pause, tarball)
        import_and_push(NAME, settings, docker_host, tarball, name, ['ENTRYPOINT ["/pause"]'])
    return f"pushed {name}"
