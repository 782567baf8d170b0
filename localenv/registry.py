"""The image registry: Debian's docker-registry (distribution 2.8) on loopback."""

from pathlib import Path

from . import binaries, probes
from .service import Service
from .settings import Settings

NAME = "registry"

CONFIG = """\
version: 0.1
log:
  fields:
    service: registry
storage:
  filesystem:
    rootdirectory: {data}
  delete:
    enabled: true
http:
  addr: {address}
"""

MANIFEST_TYPES = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
])


def registry_dir(settings: Settings) -> Path:
    return settings.state_dir / "registry"


def is_serving(settings: Settings) -> bool:
    return probes.http_status(f"http://{settings.registry_address}/v2/") == 200


def has_image(settings: Settings, repository: str, tag: str) -> bool:
    url = f"http://{settings.registry_address}/v2/{repository}/manifests/{tag}"
    return probes.http_status(url, method="HEAD", headers={"Accept": MANIFEST_TYPES}) == 200


def service(settings: Settings) -> Service:
    def argv() -> list[str]:
        program = binaries.find("docker-registry", settings)
        directory = registry_dir(settings)
        (directory / "data").mkdir(parents=True, exist_ok=True)
        config = directory / "config.yml"
        config.write_text(CONFIG.format(data=directory / "data", address=settings.registry_address))
        return [program, "serve", str(config)]

    return Service(NAME, argv, lambda: is_serving(settings), port=settings.registry_port)
