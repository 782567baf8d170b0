"""The executor a StackReconciler is handed: source, checkout, and the engine operations of one stack.

The reconciler decides; the workspace executes and raises only the typed errors of reconciler.errors.
Tests hand the reconciler a scripted workspace with the same methods, so every step order and state
transition is checked in milliseconds; StackWorkspace is the real one (git + the Automation API).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional, Protocol, TypeVar

import yaml
from pulumi import automation as auto

from manifest_loader.units import PARENT_OUTPUTS_READ_BY_UNITS, UnitError, read_units_from_stack_file
from reconciler import errors
from reconciler.engine import operations
from reconciler.engine.ciphertexts import Ciphertexts
from reconciler.engine.operations import EngineReport, OperationFailed, PreviewReport
from reconciler.engine.recovery import Recovered, ReplicasOn, recover
from reconciler.engine.stack_session import StackSession
from reconciler.engine.supervised_command import Fence, SupervisedCommand
from reconciler.errors import ReconcileError, Stalled, Temporary
from reconciler.settings import RetryPolicy, StackSpec
from reconciler.source.checkout import CommitMissingError, StackCheckout
from reconciler.source.git_command import GitError, run_git
from reconciler.source.remote_head import BranchMissingError, find_head
from reconciler.telemetry.redaction import Redactor

T = TypeVar("T")


class Workspace(Protocol):
    def find_head(self) -> str: ...

    def check_out(self, commit: str) -> None: ...

    def changed_files(self, old: str, new: str) -> Optional[list[str]]:
        """Paths that differ between two commits; None when `old` is not known here."""
        ...

    def contains(self, commit: str, descendant: str) -> bool:
        """Whether `descendant` has `commit` in its history; False when `descendant` is gone from the remote."""
        ...

    def file_at(self, commit: str, path: str) -> Optional[str]: ...

    def allowed_deletes(self, old: Optional[str], new: str) -> Optional[int]: ...

    def prepare(self, spec: StackSpec) -> None: ...

    def preview(self, commit: str, refresh: bool) -> PreviewReport: ...

    def up(self, commit: str, refresh: bool) -> EngineReport: ...

    def drift(self, commit: str) -> EngineReport: ...

    def outputs_for_units(self) -> Optional[dict[str, Any]]:
        """After an update: the outputs the stack's units read; None when its stack file declares no units."""
        ...

    def recover(self) -> Recovered: ...


class StackWorkspace:
    def __init__(
        self,
        spec: StackSpec,
        state_dir: Path,
        pulumi_root: Optional[str],
        redactor: Redactor,
        retry: RetryPolicy,
        remembered_salt: Callable[[], Optional[str]],
        remember_salt: Callable[[str], None],
    ) -> None:
        self.spec = spec
        self.retry = retry
        self.redactor = redactor
        self.root = state_dir / "workspaces" / spec.name
        self.checkout = StackCheckout(spec, self.root)
        self._command = SupervisedCommand(pulumi_root, deadline_s=spec.operation_timeout)
        self._salts = (remembered_salt, remember_salt)
        self._session: Optional[StackSession] = None
        self._replicas_on: ReplicasOn = lambda host: None

    def share(self, fence: Fence, kill_grace: float, replicas_on: ReplicasOn) -> None:
        """Replicas share this stack (coordination/leased_workspace.py): every CLI run stops when `fence` says why,
        and the recovery judges locks of other hosts by the replicas' heartbeats."""
        self._command.fence_with(fence, kill_grace)
        self._replicas_on = replicas_on

    @property
    def session(self) -> StackSession:
        if self._session is None:
            self._session = StackSession(
                self.spec, self.checkout.project_path, self._command, self.redactor,
                remembered_salt=self._salts[0], remember_salt=self._salts[1], read_outputs=False,
                # Kept in a file: each `once` is a new process, and each `config set --secret` a CLI start.
                ciphertexts=Ciphertexts(self.root / "ciphertexts.json", self.spec.passphrase.value if self.spec.passphrase else None),
                extra_env=self.engine_env(),
            )
        return self._session

    def engine_env(self) -> dict[str, str]:
        """Variables every engine run of this stack gets besides its spec's (a unit's plan file)."""
        return {}

    # Source

    def find_head(self) -> str:
        return self._source(lambda: find_head(self.spec))

    def check_out(self, commit: str) -> None:
        def fetch_and_check_out() -> None:
            self.checkout.fetch(commit)
            self.checkout.check_out(commit)

        self._source(fetch_and_check_out)

    def changed_files(self, old: str, new: str) -> Optional[list[str]]:
        if not self.checkout.has_commit(old):
            return None
        output = self._source(lambda: run_git(["diff", "--no-renames", "--name-only", "-z", old, new, "--"],
                                              self.spec.credentials, cwd=self.checkout.repo_dir).stdout)
        return [path for path in output.split("\0") if path]

    def contains(self, commit: str, descendant: str) -> bool:
        return self._source(lambda: self.checkout.contains(commit, descendant))

    def file_at(self, commit: str, path: str) -> Optional[str]:
        result = run_git(["cat-file", "blob", f"{commit}:{path}"], self.spec.credentials, cwd=self.checkout.repo_dir,
                         ok_codes=(0, 128))
        return result.stdout if result.returncode == 0 else None

    def allowed_deletes(self, old: Optional[str], new: str) -> Optional[int]:
        return self._source(lambda: self.checkout.allowed_deletes(old, new))

    # Engine

    def prepare(self, spec: StackSpec) -> None:
        """The stack file of the fresh checkout: salt and overrides (secret files as they are now)."""
        self.session.spec = spec
        self.redactor.add(*(override.value for override in spec.config if override.secret and isinstance(override.value, str)))
        self._engine(self.session.prepare)

    def preview(self, commit: str, refresh: bool) -> PreviewReport:
        return self._engine(lambda: operations.preview(self.session, commit, self.redactor, refresh=refresh))

    def up(self, commit: str, refresh: bool) -> EngineReport:
        return self._engine(lambda: operations.up(self.session, commit, self.redactor, refresh=refresh))

    def drift(self, commit: str) -> EngineReport:
        return self._engine(lambda: operations.drift(self.session, commit, self.redactor))

    def outputs_for_units(self) -> Optional[dict[str, Any]]:
        try:
            units = read_units_from_stack_file(self.checkout.project_path, self.spec.stack)
        except UnitError:
            units = None  # the program refused them already; an update that got here declared none it could read
        if units is None:
            return None
        return self._engine(lambda: self.session.outputs(PARENT_OUTPUTS_READ_BY_UNITS))

    def recover(self) -> Recovered:
        project = _project_name(self.checkout.project_path)
        return self._engine(lambda: recover(
            self.session, project, self.redactor, self.spec.lock_stale_after, self.retry.concurrent_delay, self._replicas_on,
        ))

    # Errors, typed once here

    def _engine(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except ReconcileError:
            raise
        except OperationFailed as failure:
            raise errors.from_engine(failure.cause, failure.message, self.session.backend_reachable, self.retry) from None
        except auto.CommandError as error:
            message = self.redactor.redact(str(error).strip())
            raise errors.from_engine(error, message, self.session.backend_reachable, self.retry) from None

    def _source(self, call: Callable[[], T]) -> T:
        """Git's failures as typed errors: unreachable waits a short fixed time, a missing commit stalls."""
        try:
            return call()
        except BranchMissingError as error:
            raise Temporary(errors.BRANCH_MISSING, self.redactor.redact(str(error)), delay=self.spec.resync_interval) from None
        except CommitMissingError as error:
            raise Stalled(errors.COMMIT_MISSING, self.redactor.redact(str(error))) from None
        except GitError as error:
            if error.unreachable:
                raise Temporary(errors.SOURCE_UNREACHABLE, self.redactor.redact(str(error)),
                                delay=self.retry.unreachable_delay) from None
            raise Temporary(errors.SOURCE_ERROR, self.redactor.redact(str(error))) from None


def _project_name(project_path: Path) -> str:
    for name in ("Pulumi.yaml", "Pulumi.yml"):
        path = project_path / name
        if path.is_file():
            document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            return str(document.get("name", ""))
    return ""
