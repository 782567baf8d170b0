"""The reconciler's configuration as typed values, built by settings.loading from the validated models.

Defaults live in the models (sections.py, stack_section.py, config_file.py), written once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

if TYPE_CHECKING:
    from .notification_settings import EventsTarget, NotificationSettings


@dataclass(frozen=True)
class Secret:
    """A secret value and where it came from; only `origin` is ever shown."""

    value: str = field(repr=False)
    origin: str  # "env GITOPS_WEBHOOK_SECRET" or "file /path"
    path: Optional[Path] = None  # set when it came from a file

    def __str__(self) -> str:
        return f"<secret from {self.origin}>"


@dataclass(frozen=True)
class GitCredentials:
    username: Optional[str] = None
    password: Optional[Secret] = None  # https: password or token
    ssh_key_file: Optional[Path] = None
    known_hosts_file: Optional[Path] = None


@dataclass(frozen=True)
class ConfigOverride:
    """One Pulumi config value set on the stack before each run."""

    key: str  # namespaced: "pulumi-gitops:kubeconfig"
    value: Any = field(repr=False)  # a string, or a map/list for structured config
    secret: bool = False
    source: Optional[Path] = None  # a secret read from a file: read again before each pass (rotation)

    def current(self) -> "ConfigOverride":
        """The override with its file read again; itself when it has no file or the file cannot be read now."""
        if self.source is None:
            return self
        try:
            value = self.source.read_text(encoding="utf-8").strip()
        except OSError:
            return self
        return self if not value or value == self.value else ConfigOverride(self.key, value, self.secret, self.source)


@dataclass(frozen=True)
class ReviewStackSettings:
    """A labelled pull request's own stack: which label asks for it, how long it lives, where its objects go."""

    label: str
    ttl_s: float
    namespace_config: str  # the program's config key given the review stack's namespace
    url_output: str  # the stack output holding the app's URL


@dataclass(frozen=True)
class UnitLink:
    """A unit stack's place among its parent's units (reconciler/units/): whose unit it is, and whom it waits for."""

    parent: str  # the parent entry's name
    unit: str  # the unit's name in the parent's plan
    waits_for: tuple[str, ...]  # entry names: the parent, then the units it depends on
    parent_outputs: Optional[str] = None  # the digest of the parent's outputs it reads, once the parent published one
    claims: tuple[str, ...] = ()  # globs of the files its split gives it (units/record.py): a change to one runs it


@dataclass(frozen=True)
class StackSpec:
    name: str
    repo_url: str  # what git is given: an URL or an absolute path
    repo_display: str  # what logs and status show (equal to repo_url: credentials never live in it)
    credentials: GitCredentials
    branch: Optional[str]
    commit: Optional[str]
    project_dir: str
    stack: str
    backend_url: str
    passphrase: Optional[Secret]
    resync_interval: float
    drift_interval: Optional[float]
    auto_remediate: bool
    paths: tuple[str, ...]
    deletion_guard: Optional[int]  # None: no guard
    virtualenv: Path
    config: tuple[ConfigOverride, ...]
    env: tuple[tuple[str, str], ...]
    operation_timeout: float  # each engine operation's deadline
    program_retries: int  # a failing program is tried this many more times, then the stack stalls
    lock_stale_after: float  # a stack lock this old counts as abandoned, whoever holds it
    # Folders of Kubernetes manifests: a commit that changes nothing else is judged by the deletion guard
    # from the object sets of the two commits, without a separate engine preview.
    guard_manifests: tuple[str, ...]
    # What a pull request preview's engine gets besides the stack's own settings: its credentials, named one by one.
    preview_env: tuple[tuple[str, Union[str, Secret]], ...]
    # Promotion: apply a commit only after this stack applied it (or a commit containing it) and stayed Ready for
    # `soak` seconds; with require_healthy, only while it is Ready at its own head too.
    promote_from: Optional[str]
    soak: float
    require_healthy: bool
    # owner/repo its commit statuses go to, "off" for none; None: read from repo_url (commit_status/repository.py).
    github_repository: Optional[str]
    events: Optional[EventsTarget]  # where its Kubernetes Events go; None: nowhere
    # Pull requests carrying a label get a stack of their own (reconciler/review/); None: off.
    review_stacks: Optional[ReviewStackSettings] = None
    # Files a pull request preview's program may read besides its own (a read-only kubeconfig, say).
    preview_files: tuple[Path, ...] = ()
    # With `pulumi-gitops:units` in its stack file: how many of its unit stacks run at once.
    units_parallel: int = 4
    # Set on a unit stack the reconciler made from its parent's plan; None on the stacks of the config.
    unit: Optional[UnitLink] = None
    checkpoints: str = "auto"  # auto, always or skip (reconciler/engine/checkpoints.py)

    @property
    def tracks(self) -> str:
        return f"branch {self.branch}" if self.branch else f"commit {self.commit}"


@dataclass(frozen=True)
class RetryPolicy:
    unreachable_delay: float
    concurrent_delay: float
    backoff_base: float
    backoff_cap: float


@dataclass(frozen=True)
class WebhookSettings:
    secret: Optional[Secret]
    max_body_bytes: int


@dataclass(frozen=True)
class HttpSettings:
    """How the HTTP listener defends itself: who it answers to, and how much it holds at once."""

    allowed_hosts: tuple[str, ...]  # Host header names; empty: the listen host and loopback names
    status_token: Optional[Secret]  # bearer token for /status and /metrics
    status_auth: str  # "non-loopback" or "always": when the token is asked for
    max_connections: int  # open connections; more get 503 and are closed
    request_timeout: float  # seconds for a whole request, headers and body
    workers: int  # threads that answer complete requests


@dataclass(frozen=True)
class GitHubSettings:
    """Where pull request comments and commit statuses go; the token is read from `token_env` when one is sent."""

    api_url: str
    token_env: str
    commit_statuses: bool  # each run of a stack on GitHub is posted as a commit status
    status_target_url: Optional[str]  # the status's link: a template with {stack} and {commit}


@dataclass(frozen=True)
class PreviewSettings:
    """Who may have a pull request previewed, and how long a preview may take."""

    # The pull request author's association with the repository that lets a preview run at once.
    trusted_associations: tuple[str, ...] = ("OWNER", "MEMBER", "COLLABORATOR")
    # A label only people with triage rights can set; it lets anyone's pull request be previewed.
    label: Optional[str] = "preview"
    # A comment a trusted member writes on the pull request to have it previewed.
    command: Optional[str] = "/preview"
    # Previews of pull requests from forks: off unless a trusted member asks (label or command).
    forks: bool = False
    timeout_s: float = 600.0
    # (uid, gid) a preview's CLI runs as when the service is root; None: uid 0 without capabilities.
    user: Optional[tuple[int, int]] = (65532, 65532)


@dataclass(frozen=True)
class CoordinationSettings:
    """Replicas sharing the stacks through Kubernetes Leases (reconciler/coordination/)."""

    kubeconfig: Optional[Path]  # None: the pod's service account
    namespace: str
    lease_duration: float
    renew_every: float
    replica_id: str
    kill_grace: float = 5.0  # SIGINT to SIGKILL when the fence stops a CLI (coordination/lease_fence.py)


@dataclass(frozen=True)
class ServiceConfig:
    path: Path
    state_dir: Path
    listen_host: str
    listen_port: int
    workers: int
    log_format: str  # "text" or "json"
    log_level: str
    webhook: WebhookSettings
    retry: RetryPolicy
    stacks: tuple[StackSpec, ...]
    pulumi_command: Optional[Path]
    github: GitHubSettings
    http: HttpSettings
    previews: PreviewSettings
    notifications: NotificationSettings
    coordination: Optional[CoordinationSettings] = None  # None: this process runs every stack alone

    def stack(self, name: str) -> StackSpec:
        for spec in self.stacks:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def secrets(self) -> list[str]:
        """Every secret value the config holds, for the log and status redaction."""
        values: list[Any] = []
        if self.webhook.secret:
            values.append(self.webhook.secret.value)
        if self.http.status_token:
            values.append(self.http.status_token.value)
        for spec in self.stacks:
            if spec.passphrase:
                values.append(spec.passphrase.value)
            if spec.credentials.password:
                values.append(spec.credentials.password.value)
            values += [override.value for override in spec.config if override.secret]
            values += [value.value for _, value in spec.preview_env if isinstance(value, Secret)]
        values += self.notifications.secret_values()
        return [value for value in values if value]
