"""The base images, built locally because no registry can be pulled from.

A minimal Debian root filesystem with Python (debootstrap, from the mirror
apt uses here), imported into Docker and pushed to the local registry as
base/python:3.11: the app's. The reconciler's, base/python-git:3.11, adds git
(GitPython runs it) and the CA certificates its https clones check. Each root
filesystem tarball is cached in the tools cache, named after the suite and
package list, so it is built once per machine.
"""

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import binaries, registry
from .errors import LocalEnvError
from .image_import import import_and_push, run_step
from .settings import Settings

NAME = "base-image"
SUITE = "bookworm"


@dataclass(frozen=True)
class BaseImage:
    repository: str
    tag: str
    packages: tuple[str, ...]


# python3, not python3-minimal: the minimal package lacks most of the standard
# library (http.server, json) that the app imports. Bookworm's python3 is 3.11.
PYTHON = BaseImage("base/python", "3.11", ("python3",))
PYTHON_GIT = BaseImage("base/python-git", "3.11", ("python3", "git", "ca-certificates"))
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# Only what a running Python never reads, to keep the image small.
TRIMMED = ["usr/share/doc", "usr/share/man", "usr/share/info", "var/cache/apt", "var/lib/apt/lists"]


def image_name(settings: Settings, image: BaseImage) -> str:
    return f"{settings.registry_address}/{image.repository}:{image.tag}"


def tarball(settings: Settings, image: BaseImage) -> Path:
    return settings.tools_cache / "base-images" / f"debian-{SUITE}-minbase-{'+'.join(image.packages)}.tar"


def apt_mirror(suite: str = SUITE, apt_dir: Path = Path("/etc/apt")) -> str:
    """The Debian mirror apt uses for SUITE, from sources.list or *.sources files."""
    files = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]
    for path in files:
        for line in path.read_text().splitlines() if path.is_file() else []:
            words = [w for w in line.split() if not w.startswith("[") and not w.endswith("]")]
            if len(words) >= 3 and words[0] == "deb" and words[2] == suite:
                return words[1]
    for path in sorted((apt_dir / "sources.list.d").glob("*.sources")):
        for stanza in path.read_text().split("\n\n"):
            fields = dict(
                line.split(":", 1) for line in stanza.splitlines()
                if ":" in line and not line.startswith("#")
            )
            if suite in fields.get("Suites", "").split() and "URIs" in fields:
                return fields["URIs"].split()[0]
    return DEFAULT_MIRROR


def _build_tarball(settings: Settings, image: BaseImage, log_file: Path) -> Path:
    target = tarball(settings, image)
    if target.exists():
        return target
    if os.geteuid() != 0:
        raise LocalEnvError(f"building the base image needs root (debootstrap); run as root or "
                            f"put a root filesystem tarball at {target}")
    debootstrap = binaries.find("debootstrap", settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".building-") as work:
        rootfs = Path(work) / "rootfs"
        run_step(NAME, "debootstrap", [debootstrap, "--variant=minbase", f"--include={','.join(image.packages)}",
                 SUITE, str(rootfs), apt_mirror()], log_file, timeout=1200)
        for path in TRIMMED:
            shutil.rmtree(rootfs / path, ignore_errors=True)
        # Images named python:* offer `python` as well as `python3`.
        (rootfs / "usr/local/bin/python").symlink_to("/usr/bin/python3")
        partial = Path(work) / "rootfs.tar"
        run_step(NAME, "tar", ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."],
                 log_file, timeout=600)
        partial.replace(target)
    return target


def ensure(settings: Settings, docker_host: str, image: BaseImage = PYTHON) -> str:
    """Make sure the registry holds the base image; says what was done."""
    if registry.has_image(settings, image.repository, image.tag):
        return "already in the registry"
    log_file = settings.log_file(NAME)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    cached = tarball(settings, image).exists()
    source = _build_tarball(settings, image, log_file)
    name = image_name(settings, image)
    import_and_push(NAME, settings, docker_host, source, name, ["ENV LANG=C.UTF-8", 'CMD ["python3"]'])
    return f"pushed {name} ({'cached' if cached else 'new'} root filesystem {source})"
