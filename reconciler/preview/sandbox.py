"""Where a pull request's program runs during a preview: an environment built from an allowlist, inside namespaces.

The environment holds what the stack's config names (its backend, passphrase,
`env:` and `preview_env:`), PATH, a few harmless locale and Pulumi knobs, and
a throwaway HOME, TMPDIR and PULUMI_HOME in the preview's run folder. Nothing
else of the service's environment (GitHub token, webhook secret, other stacks'
passphrases, cloud credentials not named) reaches the CLI or the program.

When the service runs as root with util-linux's unshare and setpriv, the CLI
also runs in its own mount and PID namespaces (jail.py): every mount is
read-only except the run folder (the stack's virtualenv and backend included,
so a preview can persist nothing into a later `up`), the state directory shows
only the run folder and the Git cache, the config's secret files read as
empty, /proc shows only the preview's own processes, and every capability is
dropped. Elsewhere the allowlisted environment is all the isolation there is,
and the service says so once in its log.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

from pulumi import automation as auto

from reconciler.engine.stack_session import workspace_env
from reconciler.settings import Secret, ServiceConfig, StackSpec

from .sandboxed_command import SandboxedPulumiCommand

log = logging.getLogger("reconciler.preview")

# Not secrets, and the CLI or the program behaves differently without them.
PASSED_THROUGH = (
    "LANG", "LC_ALL", "LC_CTYPE", "TZ",
    "PULUMI_SKIP_UPDATE_CHECK", "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION", "PULUMI_PARALLEL",
    "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK",
)
NAMESPACES = ("unshare", "--mount", "--pid", "--fork", "--mount-proc", "--propagation", "private", "--kill-child")
NO_PRIVILEGES = ("setpriv", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all", "--no-new-privs", "--")
JAIL = Path(__file__).with_name("jail.py")


class PreviewSandbox:
    """The run folder's HOME, TMPDIR and PULUMI_HOME, the environment, and the CLI that uses them."""

    def __init__(self, config: ServiceConfig, spec: StackSpec, run_dir: Path, cache_dir: Path,
                 pulumi_command: auto.PulumiCommand, timeout: Optional[tuple[float, str]] = None,
                 writable: Sequence[Path] = ()) -> None:
        """`timeout`: seconds and the config key that sets them (default: previews.timeout);
        `writable`: folders the CLI may write besides the run folder (a review stack's own backend)."""
        self.home, self.tmp, self.pulumi_home = run_dir / "home", run_dir / "tmp", run_dir / "pulumi-home"
        for folder in (self.home, self.tmp, self.pulumi_home):
            folder.mkdir(mode=0o700)
        plugins = _service_pulumi_home() / "plugins"
        if plugins.is_dir():
            # Plugins are read, never installed, by a preview (PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION).
            (self.pulumi_home / "plugins").symlink_to(plugins, target_is_directory=True)
        self.env = self._environment(spec, pulumi_command)
        prefix = _namespace_prefix(config, spec, run_dir, cache_dir, writable) if namespaces_available() else []
        self.isolated = bool(prefix)
        seconds, setting = timeout or (config.previews.timeout_s, "previews.timeout")
        self.command = SandboxedPulumiCommand(pulumi_command, prefix, time.monotonic() + seconds, seconds, setting)

    def _environment(self, spec: StackSpec, pulumi_command: auto.PulumiCommand) -> dict[str, str]:
        env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
        env.update(workspace_env(spec))
        cli_dir = os.path.dirname(pulumi_command.command)
        if cli_dir:
            env["PATH"] = os.pathsep.join([cli_dir, env["PATH"]])
        env.update({
            "HOME": str(self.home), "TMPDIR": str(self.tmp), "PULUMI_HOME": str(self.pulumi_home),
            "XDG_CONFIG_HOME": str(self.home / ".config"), "XDG_CACHE_HOME": str(self.home / ".cache"),
            # The virtualenv may be read-only here; compiled files would be written next to its sources.
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        env.update({name: value.value if isinstance(value, Secret) else value for name, value in spec.preview_env})
        return env


def _service_pulumi_home() -> Path:
    return Path(os.environ.get("PULUMI_HOME") or Path.home() / ".pulumi")


@functools.cache
def namespaces_available() -> bool:
    """Root, unshare and setpriv, and the kernel lets them make namespaces here (checked once per process)."""
    if os.geteuid() != 0:
        log.warning("previews run the pull request's program with an allowlisted environment only: "
                    "run the service as root (with util-linux unshare and setpriv) to also give it a read-only, "
                    "private view of the files")
        return False
    try:
        probe = subprocess.run([*NAMESPACES, *NO_PRIVILEGES, "true"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        probe_error = str(error)
    else:
        if probe.returncode == 0:
            return True
        probe_error = probe.stderr.strip()
    log.warning("previews run the pull request's program with an allowlisted environment only: "
                "namespaces are not available here (%s)", probe_error)
    return False


def _namespace_prefix(config: ServiceConfig, spec: StackSpec, run_dir: Path, cache_dir: Path,
                      writable: Sequence[Path]) -> list[str]:
    backend = _file_backend(spec)
    # What the CLI needs and a config may have put inside the state directory.
    needed = [backend, spec.virtualenv, _service_pulumi_home() / "plugins"]
    keep = [str(run_dir), str(cache_dir)]
    keep += [str(path) for path in needed if path is not None and path.is_relative_to(config.state_dir)]
    hide_dirs = {str(config.state_dir): keep}
    for other in config.stacks:
        folder = _file_backend(other)
        if folder is not None and backend is not None and not _related(folder, backend):
            hide_dirs[str(folder)] = []
    spec_json = json.dumps({"hide_dirs": hide_dirs, "hide_files": _secret_files(config),
                            "writable": [str(run_dir), *map(str, writable)]})
    return [*NAMESPACES, sys.executable, "-I", "-S", str(JAIL), spec_json, "--", *NO_PRIVILEGES]


def has_state(spec: StackSpec) -> bool:
    """False for a file backend nothing was written to yet (the CLI would create it, and the sandbox is read-only)."""
    backend = _file_backend(spec)
    return backend is None or (backend / ".pulumi").is_dir()


def _file_backend(spec: StackSpec) -> Path | None:
    if not spec.backend_url.startswith("file://"):
        return None
    return Path(spec.backend_url[len("file://"):].split("?", 1)[0])


def _related(one: Path, other: Path) -> bool:
    return one == other or one.is_relative_to(other) or other.is_relative_to(one)


def _secret_files(config: ServiceConfig) -> list[str]:
    """Every file the config reads a secret or a key from: the CLI gets the values it needs in its environment."""
    secrets: list[Secret | None] = [config.webhook.secret]
    files: list[Path | None] = []
    for spec in config.stacks:
        secrets += [spec.passphrase, spec.credentials.password]
        secrets += [value for _, value in spec.preview_env if isinstance(value, Secret)]
        files.append(spec.credentials.ssh_key_file)
        files += [override.source for override in spec.config if override.secret]
    files += [secret.path for secret in secrets if secret is not None]
    return sorted({str(path) for path in files if path is not None})
