"""The Pulumi CLI as a preview runs it: only the environment it is given, behind the namespace launcher, one deadline.

The SDK's PulumiCommand.run starts the CLI with `{**os.environ, **additional_env}`,
so the service's GitHub token, webhook secret and every stack's passphrase would
reach the pull request's program. This command starts it with `additional_env`
alone (LocalWorkspace puts its `env_vars` there), behind `prefix` (jail.py in its
namespaces), supervised as the reconciler's own runs are (its process group
interrupted, then killed), against one deadline for the whole preview.
"""

from __future__ import annotations

import time
from typing import Mapping, Optional, Sequence

from pulumi import automation as auto
from pulumi.automation._cmd import OnOutput

from reconciler.engine.supervised_command import SupervisedCommand
from reconciler.errors import EngineInterrupted

# After the deadline's SIGINT (the CLI cancels cleanly; a preview writes nothing), how long before SIGKILL.
KILL_GRACE_S = 10.0


class PreviewDeadlineExceeded(Exception):
    """The preview ran past its deadline; its CLI was stopped."""


class SandboxedPulumiCommand(SupervisedCommand):
    inherits_environment = False

    def __init__(self, base: auto.PulumiCommand, prefix: Sequence[str], deadline_at: float, timeout_s: float,
                 timeout_setting: str = "previews.timeout") -> None:
        # No super().__init__(): it runs `pulumi version` again; `base` has checked the CLI already.
        self.command = base.command
        self.version = base.version
        self._supervise(timeout_s, KILL_GRACE_S)  # no fence: a preview belongs to no replica's Lease
        self._prefix = list(prefix)
        self._deadline_at = deadline_at
        self._timeout_s = timeout_s
        self._timeout_setting = timeout_setting  # the config key the error tells to raise

    def launcher(self) -> list[str]:
        return self._prefix

    def run(
        self,
        args: list[str],
        cwd: str,
        additional_env: Mapping[str, str],
        on_output: Optional[OnOutput] = None,
        on_error: Optional[OnOutput] = None,
    ) -> auto.CommandResult:
        self.deadline_s = self._deadline_at - time.monotonic()
        if self.deadline_s <= 0:
            raise PreviewDeadlineExceeded(self._deadline_message())
        try:
            return super().run(args, cwd, additional_env, on_output, on_error)
        except EngineInterrupted as stopped:
            if stopped.why == "deadline":
                raise PreviewDeadlineExceeded(self._deadline_message()) from None
            raise

    def _deadline_message(self) -> str:
        return (f"the sandboxed CLI ran past its deadline of {self._timeout_s:.0f}s and was stopped; "
                f"make the program faster or raise {self._timeout_setting} in the reconciler config")
