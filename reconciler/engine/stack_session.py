"""One stack's Automation API handle on its checkout: the workspace, the salt, the config overrides, the secrets.

The stack is selected (or created) once per process; later runs reuse the
handle, since the checkout folder stays the same and only its commit changes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from pulumi import automation as auto
from pulumi.automation._cmd import CommandResult
from pulumi.automation.errors import create_command_error

from reconciler.settings import StackSpec
from reconciler.telemetry.redaction import Redactor

from .ciphertexts import Ciphertexts
from .encryption_salt import salt_from_state
from .stack_file import StackFile
from .supervised_command import SupervisedCommand

log = logging.getLogger("reconciler.engine")


def workspace_env(spec: StackSpec) -> dict[str, str]:
    """What every CLI call of this stack gets on top of the service's own environment."""
    env = {
        "PULUMI_BACKEND_URL": spec.backend_url,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        # Git wins over hand edits: without force, server-side apply refuses to take
        # back a field someone changed with kubectl, and drift could never be undone.
        # A stack's `env:` may set it to "false".
        "PULUMI_K8S_ENABLE_PATCH_FORCE": "true",
        # The program runs in the configured virtualenv even when Pulumi.yaml names none.
        "PATH": f"{spec.virtualenv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    if spec.passphrase is not None:
        # Set outright so an inherited PULUMI_CONFIG_PASSPHRASE can never win.
        env["PULUMI_CONFIG_PASSPHRASE"] = spec.passphrase.value
    env.update(dict(spec.env))
    return env


def ensure_backend_folder(spec: StackSpec) -> None:
    if spec.backend_url.startswith("file://"):
        Path(spec.backend_url[len("file://"):].split("?", 1)[0]).mkdir(parents=True, exist_ok=True)


class _NamedStackWorkspace(auto.LocalWorkspace):
    """A workspace whose every command names its stack (`--stack`), so nothing is selected first.

    `stack select` is a CLI start (0.2-0.3 s) that only records the choice in
    PULUMI_HOME; for a stack that does not exist, the next command fails with
    the same StackNotFoundError.
    """

    def select_stack(self, stack_name: str) -> None:
        pass


class _OutputlessWorkspace(auto.LocalWorkspace):
    """The reconciler's own workspace: it reads no stack outputs.

    The SDK's `Stack.up` reads them after every update with two more CLI runs (`stack output --json`,
    then again with `--show-secrets`, each loading and decrypting the state): a second or so per run
    for values the reconciler never uses, and every secret output in this process's memory.
    """

    def stack_outputs(self, stack_name: str) -> auto.OutputMap:
        return {}


class StackSession:
    def __init__(
        self,
        spec: StackSpec,
        project_path: Path,
        pulumi_command: auto.PulumiCommand,
        redactor: Redactor,
        remembered_salt: Callable[[], Optional[str]],
        remember_salt: Callable[[str], None],
        create: bool = True,
        env: Optional[Mapping[str, str]] = None,
        ciphertexts: Optional[Ciphertexts] = None,
        read_outputs: bool = True,
        extra_env: Optional[Mapping[str, str]] = None,
    ) -> None:
        self.spec = spec
        self.project_path = project_path
        self._command = pulumi_command
        self._redactor = redactor
        self._remembered_salt = remembered_salt
        self._remember_salt = remember_salt
        # A preview only reads: it never creates the stack in the backend, nor selects it (a missing one fails its first command).
        self._create = create
        self._read_outputs = read_outputs
        # The whole environment of the CLI when given (a preview's sandbox); else workspace_env over the service's.
        self._env = env
        # Variables of this stack's own, on top of either (a unit's plan file).
        self._extra_env = dict(extra_env or {})
        self._stack: Optional[auto.Stack] = None
        self._salt: Optional[str] = None
        self._learned_config: Optional[str] = None
        # (salt, key, value) -> ciphertext: valid for as long as the salt is the same.
        self._ciphertexts = ciphertexts if ciphertexts is not None else Ciphertexts()

    @property
    def stack(self) -> auto.Stack:
        if self._stack is None:
            ensure_backend_folder(self.spec)
            kind = _NamedStackWorkspace if not self._create else auto.LocalWorkspace if self._read_outputs else _OutputlessWorkspace
            workspace = kind(
                work_dir=str(self.project_path),
                env_vars={**(dict(self._env) if self._env is not None else workspace_env(self.spec)), **self._extra_env},
                pulumi_command=self._command,
            )
            if self._create:
                self._stack = auto.Stack.create_or_select(self.spec.stack, workspace)
            else:
                self._stack = auto.Stack.select(self.spec.stack, workspace)
        return self._stack

    def outputs(self, names: tuple[str, ...]) -> dict[str, Any]:
        """The named outputs as the last update left them, secrets decrypted (one CLI run; `Stack.outputs` makes two)."""
        stack = self.stack
        result = self._command.run(["stack", "output", "--json", "--show-secrets", "--stack", self.spec.stack],
                                   str(self.project_path), stack.workspace.env_vars)
        found = json.loads(result.stdout or "{}")
        return {name: found.get(name) for name in names}

    def backend_reachable(self) -> bool:
        """Asks the backend itself (pulumi whoami), so a failed run can be told apart from an unreachable backend."""
        try:
            self.stack.workspace.who_am_i()
        except auto.CommandError:
            return False
        return True

    def prepare(self) -> None:
        """Before each run on a fresh checkout: the salt first (everything else may decrypt), then the overrides."""
        stack_file = StackFile(self.project_path, self.spec.stack)
        stack = self.stack
        committed_secrets = stack_file.secure_keys()
        if stack_file.uses_passphrase() and stack_file.salt() is None:
            salt = self._known_salt(stack, must_match_state=bool(committed_secrets))
            if salt:
                stack_file.set_salt(salt)
        plain = {override.key: override.value for override in self.spec.config if not override.secret}
        if plain:
            stack_file.set_config_entries(plain)
        self._set_secret_overrides(stack_file)
        if committed_secrets:
            # The overrides' own values are known already; only committed secrets need decrypting.
            self._learn_config_secrets(stack_file)
        self.after_run()

    def after_run(self) -> None:
        """The CLI writes a salt into a new stack's file; remember it for the next fresh checkout."""
        salt = StackFile(self.project_path, self.spec.stack).salt()
        if salt and salt != self._salt:
            self._salt = salt
            self._remember_salt(salt)

    def _known_salt(self, stack: auto.Stack, must_match_state: bool) -> Optional[str]:
        """The state's salt when committed secrets must decrypt; else the one remembered (no CLI call), else the state's."""
        if self._salt is None:
            remembered = None if must_match_state else self._remembered_salt()
            self._salt = remembered or salt_from_state(stack) or self._remembered_salt()
        return self._salt

    def _set_secret_overrides(self, stack_file: StackFile) -> None:
        """Encrypts each secret override with the CLI once per salt and value; later runs write the same ciphertext back."""
        secret = [override for override in self.spec.config if override.secret]
        salt = stack_file.salt()
        known = {o.key: self._ciphertexts.get(salt, o.key, str(o.value)) for o in secret} if salt else {}
        if any(known.values()):
            stack_file.set_config_entries({key: {"secure": ciphertext} for key, ciphertext in known.items() if ciphertext})
        missing = [override for override in secret if not known.get(override.key)]
        for override in missing:
            self._set_secret(override.key, str(override.value))
        if not missing:
            return
        entries, salt = stack_file.config_entries(), stack_file.salt()
        for override in missing:
            entry = entries.get(override.key)
            if salt and isinstance(entry, dict) and "secure" in entry:
                self._ciphertexts.put(salt, override.key, str(override.value), entry["secure"])

    def _set_secret(self, key: str, value: str) -> None:
        """`pulumi config set --secret KEY` with the value on stdin (argv is readable by anyone in /proc/*/cmdline).

        Behind the command's launcher, when it has one: a preview's sandbox.
        """
        launcher = self._command.launcher() if isinstance(self._command, SupervisedCommand) else []
        args = [*launcher, self._command.command, "--non-interactive", "config", "set", "--secret", "--stack", self.spec.stack, key]
        inherited = os.environ if self._env is None else {}
        env = {**inherited, **self.stack.workspace.env_vars, "PULUMI_AUTOMATION_API": "true"}
        result = subprocess.run(args, input=value, cwd=self.project_path, env=env, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise create_command_error(CommandResult(stdout=result.stdout, stderr=result.stderr, code=result.returncode))

    def _learn_config_secrets(self, stack_file: StackFile) -> None:
        """Decrypts the stack's secret config once per distinct stack file, so redaction knows the values."""
        fingerprint = hashlib.sha256(stack_file.path.read_bytes()).hexdigest() if stack_file.path.exists() else ""
        if fingerprint == self._learned_config:
            return
        secrets = [value.value for value in self.stack.get_all_config().values() if value.secret]
        self._redactor.add(*secrets)
        self._learned_config = fingerprint
        log.debug("learned %d secret config value(s) for redaction", len(secrets), extra={"stack": self.spec.name})
