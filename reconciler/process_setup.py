"""What every command builds from the config first: the redactor and the Pulumi CLI.

Apart from stack_set.py so that `python -m reconciler preview` starts without
importing the reconciler's passes (reconcile, guard, the manifest loader).
"""

from __future__ import annotations

from typing import Optional

from pulumi import automation as auto

from reconciler.engine.cli_version import remembered_pulumi_command
from reconciler.settings import ConfigError, ServiceConfig
from reconciler.telemetry.redaction import Redactor

CLI_VERSION_FILE = "pulumi-version.json"


def redactor_for(config: ServiceConfig) -> Redactor:
    redactor = Redactor(config.secrets())
    for spec in config.stacks:
        if spec.credentials.password is not None:
            redactor.add_basic_auth(spec.credentials.username or "x-access-token", spec.credentials.password.value)
    return redactor


def pulumi_root(config: ServiceConfig) -> Optional[str]:
    return str(config.pulumi_command.parent.parent) if config.pulumi_command else None


def pulumi_command(config: ServiceConfig) -> auto.PulumiCommand:
    """The pulumi CLI named in the config, else the one on PATH; a missing CLI is a config problem (exit 2)."""
    try:
        return remembered_pulumi_command(pulumi_root(config), config.state_dir / CLI_VERSION_FILE)
    except (OSError, auto.errors.InvalidVersionError) as error:
        raise ConfigError(
            str(config.path),
            [f"pulumi: cannot run the Pulumi CLI ({error}); put it on PATH (`source tools/env.sh`) or set `pulumi:` to its path"],
        ) from None
