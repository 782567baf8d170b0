"""Finds the programs the environment runs.

The control plane binaries come from `make tools` (tools/build-kubernetes.sh)
into the tools cache, one folder per name and pinned version; they are found
there even when tools/env.sh was not sourced. Debian's programs come from PATH.
"""

import shutil
from pathlib import Path

from .errors import MissingBinary
from .settings import REPO_DIR, Settings

VERSIONS_FILE = REPO_DIR / "tools" / "versions.env"

# Which pinned version in tools/versions.env names each cached tool's folder.
CACHED_TOOLS = {
    "kubernetes": "KUBERNETES_VERSION",
    "kubelet": "KUBERNETES_VERSION",
    "kwok": "KWOK_VERSION",
    "kine": "KINE_VERSION",
    "buildkit": "BUILDKIT_VERSION",
}


def pinned_versions(versions_file: Path = VERSIONS_FILE) -> dict[str, str]:
    versions = {}
    for line in versions_file.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            # A comment may follow the value (`PULUMI_VERSION=3.274.1  # why`), as in a shell file.
            versions[key.strip()] = value.split("#", 1)[0].strip().strip('"')
    return versions


def tool_dirs(settings: Settings) -> list[Path]:
    versions = pinned_versions()
    return [
        settings.tools_cache / f"{tool}-{versions[key]}"
        for tool, key in CACHED_TOOLS.items()
        if key in versions
    ]


def find(name: str, settings: Settings) -> str:
    """The path of program NAME, or MissingBinary saying to run `make tools`."""
    dirs = [d / "bin" for d in tool_dirs(settings)]
    for directory in dirs:
        candidate = directory / name
        if candidate.is_file():
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise MissingBinary(name, [str(d) for d in dirs])


def kwok_stages(settings: Settings) -> Path:
    """The default kwok Stages, saved next to the kwok binary by its build."""
    kwok_dir = Path(find("kwok", settings)).resolve().parent.parent
    stages = kwok_dir / "share" / "stages.yaml"
    if not stages.is_file():
        raise MissingBinary("kwok stages (share/stages.yaml)", [str(kwok_dir)])
    return stages
