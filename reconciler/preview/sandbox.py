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
dropped. Of a file backend only what `pulumi preview` reads is mounted back
(backend_view.py). The CLI runs as `previews.user` (65532 by default), not
root, when the kernel lets the jail make idmapped mounts: what it needs (the
run folder, the Git cache, the stack's checkpoint and virtualenv, the
interpreter, the CLI, its plugins and the stack's `preview_files`) is mounted
back so that their owner's files read as that user's; any folder on the way
it could not enter is covered, and every other file of root's stays
unreadable to it. Elsewhere the CLI keeps uid 0, or the allowlisted
environment is all the isolation there is, and the service says so once in
its log.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import pwd
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

from pulumi import automation as auto

from reconciler.engine.stack_session import workspace_env
from reconciler.settings import Secret, ServiceConfig, StackSpec
from reconciler.source.checkout import StackCheckout

from .backend_view import file_backend, files_a_preview_reads
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
        self.user = preview_user(config)
        self.env = self._environment(spec, pulumi_command)
        if self.user is not None:
            # The CLI asks who it runs as (Go's os/user: the passwd entry, else $USER), e.g. to create a stack.
            self.env["USER"] = self.env["LOGNAME"] = _user_name(self.user[0])
        # A jail that ran as the user proves the namespaces: the plain probe is only for the fallback.
        self.isolated = self.user is not None or namespaces_available()
        prefix = (_namespace_prefix(config, spec, run_dir, cache_dir, pulumi_command, self.user, writable)
                  if self.isolated else [])
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


@functools.cache
def _separate_user_available(uid: int, gid: int, state_dir: Path) -> bool:
    """The jail can idmap the state directory's file system to the user and switch to it (checked once per process)."""
    expose = {str(state_dir): "ro"}
    hide = sorted(str(folder) for folder in _closed_folders_on_the_way(expose, (uid, gid)))
    spec = json.dumps({"hide": hide, "expose": expose, "user": [uid, gid]})
    try:
        probe = subprocess.run([*NAMESPACES, sys.executable, "-I", "-S", str(JAIL), spec, "--", *_no_privileges((uid, gid)),
                                "test", "-r", str(state_dir)], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        probe_error = str(error)
    else:
        if probe.returncode == 0:
            return True
        probe_error = probe.stderr.strip() or f"exit {probe.returncode}"
    log.warning("previews cannot run as uid %d here: the kernel or the file system of %s does not allow the jail's "
                "idmapped mounts (%s); the CLI keeps uid 0, without capabilities where namespaces work", uid, state_dir, probe_error)
    return False


def preview_user(config: ServiceConfig) -> tuple[int, int] | None:
    """(uid, gid) a preview's CLI runs as; None: not a separate user (`previews.user: null`, or not possible here)."""
    if os.geteuid() != 0:
        return None  # no namespaces either: namespaces_available() says so
    if config.previews.user is None:
        _say_once("previews run as root without capabilities: previews.user is null in the config")
        return None
    return config.previews.user if _separate_user_available(*config.previews.user, config.state_dir) else None


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid-{uid}"


@functools.cache
def _say_once(message: str) -> None:
    log.warning(message)


def _no_privileges(user: tuple[int, int] | None) -> list[str]:
    switch = [f"--reuid={user[0]}", f"--regid={user[1]}", "--clear-groups"] if user else []
    return [NO_PRIVILEGES[0], *switch, *NO_PRIVILEGES[1:]]


def _namespace_prefix(config: ServiceConfig, spec: StackSpec, run_dir: Path, cache_dir: Path,
                      pulumi_command: auto.PulumiCommand, user: tuple[int, int] | None, writable: Sequence[Path]) -> list[str]:
    # Where links lead: the jail mounts there, and the folders on the way there must open to the user.
    expose = {os.path.realpath(path): "ro" for path in _needed(spec, run_dir, cache_dir, pulumi_command, writable)
              if path.exists()}
    expose.update({os.path.realpath(path): "rw" for path in [run_dir, *writable]})
    # Every stack's backend folder: the stack's own checkpoint is among what is mounted back.
    hide = {str(config.state_dir)} | {str(folder) for folder in map(file_backend, config.stacks) if folder is not None}
    if user is not None:
        hide |= {str(folder) for folder in _closed_folders_on_the_way(expose, user)}
    own_files = {str(path) for path in spec.preview_files}
    spec_json = json.dumps({"hide": sorted(hide), "expose": expose, "user": user,
                            "hide_files": [path for path in _secret_files(config) if path not in own_files]})
    return [*NAMESPACES, sys.executable, "-I", "-S", str(JAIL), spec_json, "--", *_no_privileges(user)]


def _needed(spec: StackSpec, run_dir: Path, cache_dir: Path, pulumi_command: auto.PulumiCommand,
            writable: Sequence[Path]) -> list[Path]:
    """What the CLI and the program read besides the run folder: Git objects, state, interpreter, CLI and plugins."""
    needed = [cache_dir, spec.virtualenv, _service_pulumi_home() / "plugins", *spec.preview_files]
    backend = file_backend(spec)
    # A backend the CLI may write (a review stack's) is exposed whole; a preview's, file by file.
    if backend is not None and not any(backend.is_relative_to(folder) for folder in writable):
        needed += files_a_preview_reads(backend, StackCheckout(spec, run_dir).project_path, spec.stack)
    interpreter = (spec.virtualenv / "bin" / "python").resolve()
    if interpreter.exists():
        needed.append(interpreter.parent.parent)  # the installation the virtualenv was made from
    cli = shutil.which(pulumi_command.command)
    if cli is not None:
        needed.append(Path(cli).resolve().parent)  # the CLI and its language hosts
    return needed


def _closed_folders_on_the_way(paths: dict[str, str], user: tuple[int, int]) -> set[Path]:
    """The first folder above each path the user may not enter (/root, a 0700 temporary folder): covered by the jail."""
    closed = set()
    for path in paths:
        for folder in reversed(Path(path).parents):
            if not _enterable(folder.stat(), user):
                closed.add(folder)
                break
    return closed


def _enterable(info: os.stat_result, user: tuple[int, int]) -> bool:
    if info.st_uid == user[0]:
        return bool(info.st_mode & stat.S_IXUSR)
    if info.st_gid == user[1]:
        return bool(info.st_mode & stat.S_IXGRP)
    return bool(info.st_mode & stat.S_IXOTH)


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
