"""The reconciler service a review stack e2e test starts: one base stack with review stacks on, a recording GitHub."""

from __future__ import annotations

from pathlib import Path

from localenv import buildkit
from localenv import settings as localenv_settings
from testsupport.reconciler_cluster import PASSPHRASE_ENV, REGISTRY_PASSWORD_ENV, ClusterRepo
from testsupport.reconciler_testing import free_port, write_config

WEBHOOK_SECRET_ENV = "RECONCILER_E2E_WEBHOOK_SECRET"


def review_stack_service(root: Path, repo: ClusterRepo, local_env: dict[str, str], engine_env: dict[str, str],
                         github, label: str, webhook_secret: str) -> tuple[Path, dict[str, str], int]:
    """The config (state under `root/reconciler-state`), the service's environment and its port."""
    env = {**engine_env, **local_env, PASSPHRASE_ENV: "e2e-passphrase", REGISTRY_PASSWORD_ENV: "e2e-registry-password",
           "GITHUB_TOKEN": github.token, WEBHOOK_SECRET_ENV: webhook_secret}
    port = free_port()
    config = write_config(
        # The sandboxed engine gets the image builder the local environment runs, named like any preview_env,
        # and its socket, which the preview user may use only when it is given.
        root / "reconciler.yaml", [repo.stack_entry(
            review_stacks={"label": label, "ttl": "72h"},
            preview_env={name: local_env[name] for name in ("BUILDX_CONFIG", "BUILDX_BUILDER")},
            preview_files=[local_env["KUBECONFIG"], str(buildkit.socket_path(localenv_settings.load()))],
        )],
        state_dir=str(root / "reconciler-state"), listen=f"127.0.0.1:{port}", log_format="json",
        github={"api_url": github.url}, webhook={"secret": {"env": WEBHOOK_SECRET_ENV}},
    )
    return config, env, port
