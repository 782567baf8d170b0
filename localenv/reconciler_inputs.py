"""What the reconciler's image is built from.

The image is built from what is gathered on the host: BuildKit's build steps reach
no package index, and the image must download nothing when it runs.

`/var/lib/pulumi-gitops/reconciler-image/tools` holds the pinned Pulumi CLI, the Python language host and the two
resource plugins, linked from the tools cache; `.../wheels` the wheels of
deploy/reconciler/requirements.txt (and pip's own, which installs them: the base image has no pip),
downloaded once per requirements into the tools cache. The program hands both folders to
docker-build as named build contexts (deploy/reconciler/Dockerfile). The folder is the node's, at a
fixed path (Pulumi.local.yaml's reconcilerBuildInputs), which the reconciler's pods mount at the same
path: the machine's runs and the pods' then give docker-build the same inputs, and neither rebuilds the
image the other built.
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from .binaries import pinned_versions
from .errors import LocalEnvError
from .reconciler_node import IMAGE_INPUTS
from .settings import REPO_DIR, Settings

NAME = "reconciler-image-inputs"
REQUIREMENTS = REPO_DIR / "deploy" / "reconciler" / "requirements.txt"
# The pins the image's wheels are downloaded at.
CONSTRAINTS = REPO_DIR / "requirements.txt"
INPUTS_DIR = IMAGE_INPUTS


def inputs_dir() -> Path:
    return INPUTS_DIR


def tool_files(settings: Settings) -> list[Path]:
    """The binaries the reconciler runs, each from its pinned folder in the tools cache."""
    versions = pinned_versions()
    cache = settings.tools_cache
    pulumi_bin = cache / f"pulumi-{versions['PULUMI_VERSION']}" / "bin"
    return [
        pulumi_bin / "pulumi",
        pulumi_bin / "pulumi-language-python",
        pulumi_bin / "pulumi-language-python-exec",
        cache / f"pulumi-resource-kubernetes-{versions['PULUMI_KUBERNETES_VERSION']}" / "pulumi-resource-kubernetes",
        cache / f"pulumi-resource-docker-build-{versions['PULUMI_DOCKER_BUILD_VERSION']}" / "pulumi-resource-docker-build",
    ]


def _link(source: Path, target: Path) -> None:
    """A hard link (no copy of 500 MB of binaries) where both sit on one filesystem, else a copy."""
    if target.exists() and target.stat().st_ino == source.stat().st_ino:
        return
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _pip_version() -> str:
    from importlib.metadata import version

    return version("pip")


def _wheel_cache(settings: Settings) -> Path:
    """One folder per requirements, constraints and pip version: a change downloads anew."""
    digest = hashlib.sha256()
    for path in (REQUIREMENTS, CONSTRAINTS):
        digest.update(path.read_bytes())
    digest.update(_pip_version().encode())
    return settings.tools_cache / "wheels" / f"reconciler-{digest.hexdigest()[:16]}"


def constraints_text(requirements: str) -> str:
    """The project's pins as pip constraints, which may not name extras (`moto[server]==5.2.5`)."""
    return re.sub(r"^([A-Za-z0-9_.-]+)\[[^\]]*\]", r"\1", requirements, flags=re.MULTILINE)


def _download_wheels(settings: Settings, target: Path) -> None:
    log_file = settings.log_file(NAME)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)  # the tools cache may not hold a wheels folder yet
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    constraints = target.with_name(target.name + ".constraints.txt")
    constraints.write_text(constraints_text(CONSTRAINTS.read_text()))
    command = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--dest", str(partial),
               "-r", str(REQUIREMENTS), "-c", str(constraints), f"pip=={_pip_version()}"]
    with open(log_file, "a") as log:
        done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, timeout=1200)
    if done.returncode != 0:
        raise LocalEnvError(f"downloading the reconciler image's wheels failed (pip exited {done.returncode}); "
                            f"see {log_file}")
    partial.replace(target)


def ensure(settings: Settings) -> str:
    """Gathers the tools and the wheels; says what was done."""
    missing = [str(path) for path in tool_files(settings) if not path.is_file()]
    if missing:
        raise LocalEnvError(f"the reconciler image needs {', '.join(missing)}: run `make tools`")
    wheels = _wheel_cache(settings)
    downloaded = not wheels.is_dir()
    if downloaded:
        _download_wheels(settings, wheels)
    root = inputs_dir()
    for folder, sources in (("tools", tool_files(settings)), ("wheels", sorted(wheels.iterdir()))):
        target = root / folder
        target.mkdir(parents=True, exist_ok=True)
        wanted = {source.name for source in sources}
        for stale in target.iterdir():
            if stale.name not in wanted:
                stale.unlink()
        for source in sources:
            _link(source, target / source.name)
    return f"{root} ({'wheels downloaded' if downloaded else 'cached wheels'})"
