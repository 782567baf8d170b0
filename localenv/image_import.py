"""Images made from a root filesystem tarball: `docker import`, then pushed to the local registry.

Nothing can be pulled from a public registry here, so the images the local
environment needs (the app's base, the pod sandbox's pause) are made this way.
"""

import os
import subprocess
from pathlib import Path

from . import binaries
from .errors import ComponentFailed
from .processes import log_tail
from .settings import Settings


def run_step(component: str, step: str, argv: list[str], log_file: Path, timeout: float,
             env: dict | None = None) -> None:
    """Run ARGV with its output appended to LOG_FILE; a failure names COMPONENT, STEP and the log's tail."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("a") as log:
        log.write(f"=== {step}: {' '.join(argv)}\n")
        log.flush()
        try:
            # An image's files are for its users: the private umask of `localenv` must not reach the root filesystem.
            result = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, timeout=timeout,
                                    env={**os.environ, **(env or {})}, umask=0o022)
        except subprocess.TimeoutExpired:
            raise ComponentFailed(component, f"step '{step}' took over {timeout:.0f}s", log_file,
                                  log_tail(log_file)) from None
    if result.returncode != 0:
        raise ComponentFailed(component, f"step '{step}' failed", log_file, log_tail(log_file))


def import_and_push(component: str, settings: Settings, docker_host: str, tarball: Path, name: str,
                    changes: list[str]) -> None:
    """Import TARBALL as image NAME with the Dockerfile instructions CHANGES, and push it."""
    docker = binaries.find("docker", settings)
    env = {"DOCKER_HOST": docker_host}
    log_file = settings.log_file(component)
    change_flags = [flag for change in changes for flag in ("--change", change)]
    run_step(component, "docker import", [docker, "import", *change_flags, str(tarball), name],
             log_file, timeout=600, env=env)
    run_step(component, "docker push", [docker, "push", name], log_file, timeout=600, env=env)
