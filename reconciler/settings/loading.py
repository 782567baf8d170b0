"""load_config: reads the reconciler's YAML file and validates all of it before anything starts.

The pydantic models (config_file.py) check every key and collect every problem, so one run of
the service names them all; any problem makes the whole file unusable (exit code 2). The
validated models become the frozen settings the rest of the reconciler uses (model.py).
"""

from __future__ import annotations

import collections
import os
from pathlib import Path
from typing import Any, Optional

import yaml
from pydantic import ValidationError

from .config_file import ConfigFile, deletion_guard, pulumi_stack
from .coordination_section import CoordinationSection, host_replica_id
from .errors import ConfigError
from .events_section import events_target
from .model import (
    ConfigOverride,
    CoordinationSettings,
    GitCredentials,
    GitHubSettings,
    HttpSettings,
    PreviewSettings,
    RetryPolicy,
    ReviewStackSettings,
    ServiceConfig,
    StackSpec,
    WebhookSettings,
)
from .notification_settings import NotificationSettings, NotificationSink, RateLimit
from .notifications_section import NotificationsSection
from .problem_text import describe
from .sections import GITHUB_COM_API, preview_user_ids
from .stack_section import StackSection


def load_config(path: str | os.PathLike) -> ServiceConfig:
    config_path = Path(path).resolve()
    try:
        document = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(str(path), [f"cannot read the file ({error.strerror})"]) from None
    except yaml.YAMLError as error:
        raise ConfigError(str(path), [f"is not valid YAML: {error}"]) from None
    if not isinstance(document, dict):
        raise ConfigError(str(path), ["must be a YAML mapping with a `stacks:` list"])
    problems = _repeated_names(document.get("stacks"))
    try:
        config_file = ConfigFile.model_validate(document, context={"config_dir": config_path.parent})
    except ValidationError as error:
        raise ConfigError(str(path), [*describe(error, document, ConfigFile), *problems]) from None
    problems += config_file.notifications.unknown_stacks({entry.name for entry in config_file.stacks})
    if problems:
        raise ConfigError(str(path), problems)
    return _service(config_file, config_path)


def _repeated_names(entries: Any) -> list[str]:
    """Read from the document itself, so a repeated name is reported along with every other problem."""
    names = [entry.get("name") for entry in entries if isinstance(entry, dict)] if isinstance(entries, list) else []
    counts = collections.Counter(name for name in names if isinstance(name, str))
    return [f"stacks ({name}): the name is used twice; each entry needs its own" for name, count in counts.items() if count > 1]


def _service(config: ConfigFile, path: Path) -> ServiceConfig:
    host, _, port = config.listen.rpartition(":")
    return ServiceConfig(
        path=path,
        state_dir=config.state_dir,
        listen_host=host.strip("[]"),
        listen_port=int(port),
        workers=config.workers,
        log_format=config.log_format,
        log_level=config.log_level,
        webhook=WebhookSettings(**dict(config.webhook)),
        retry=RetryPolicy(**dict(config.retry)),
        stacks=tuple(_stack(entry) for entry in config.stacks),
        pulumi_command=config.pulumi,
        github=GitHubSettings(
            api_url=(config.github.api_url or os.environ.get("GITHUB_API_URL") or GITHUB_COM_API).rstrip("/"),
            token_env=config.github.token_env,
            commit_statuses=config.github.commit_statuses,
            status_target_url=config.github.status_target_url,
        ),
        http=HttpSettings(**{**dict(config.http), "allowed_hosts": tuple(config.http.allowed_hosts)}),
        previews=PreviewSettings(
            trusted_associations=tuple(config.previews.trusted_associations),
            label=config.previews.label,
            command=config.previews.command,
            forks=config.previews.forks,
            timeout_s=config.previews.timeout,
            user=preview_user_ids(config.previews.user) if config.previews.user else None,
        ),
        notifications=_notifications(config.notifications),
        coordination=_coordination(config.coordination) if config.coordination else None,
    )


def _coordination(section: CoordinationSection) -> CoordinationSettings:
    return CoordinationSettings(
        kubeconfig=section.kubeconfig,
        namespace=section.namespace,
        lease_duration=section.lease_duration,
        renew_every=section.renew_every,
        replica_id=section.replica_id or host_replica_id(),
        kill_grace=section.kill_grace,
    )


def _notifications(section: NotificationsSection) -> NotificationSettings:
    sinks = tuple(
        NotificationSink(
            name=sink.name, type=sink.type, url=sink.url, secret=sink.secret,
            results=frozenset(result.value for result in sink.results), stacks=frozenset(sink.stacks),
            rate_limit=RateLimit(sink.rate_limit.messages, sink.rate_limit.per), timeout_s=sink.timeout,
            retries=sink.retries, retry_backoff_s=sink.retry_backoff,
        )
        for sink in section.sinks
    )
    return NotificationSettings(sinks, section.link)


def _stack(entry: StackSection) -> StackSpec:
    credentials = entry.repo.credentials
    return StackSpec(
        name=entry.name,
        repo_url=entry.repo.url,
        repo_display=entry.repo.url,
        credentials=GitCredentials(**dict(credentials)) if credentials else GitCredentials(),
        branch=None if entry.commit else (entry.branch or "main"),
        commit=entry.commit,
        project_dir=entry.project_dir,
        stack=pulumi_stack(entry),
        backend_url=entry.backend_url,
        passphrase=entry.secrets_passphrase,
        resync_interval=entry.resync_interval,
        drift_interval=entry.drift_interval,
        auto_remediate=entry.auto_remediate,
        paths=tuple(entry.paths),
        deletion_guard=deletion_guard(entry),
        virtualenv=entry.virtualenv,  # type: ignore[arg-type]  # the validator fills in the default
        config=tuple(ConfigOverride(key, value, secret, source) for key, (value, secret, source) in entry.config.items()),
        env=tuple(entry.env.items()),
        operation_timeout=entry.operation_timeout,
        program_retries=entry.program_retries,
        lock_stale_after=entry.lock_stale_after,
        guard_manifests=tuple(entry.guard_manifests),
        preview_env=tuple(entry.preview_env.items()),
        promote_from=entry.promote_from,
        soak=entry.soak,
        require_healthy=entry.require_healthy,
        github_repository=entry.github_repository,
        events=events_target(entry.events, entry.config),
        review_stacks=_review_stacks(entry),
        preview_files=tuple(entry.preview_files),
        units_parallel=entry.units_parallel,
        checkpoints=entry.checkpoints,
    )


def _review_stacks(entry: StackSection) -> Optional[ReviewStackSettings]:
    review = entry.review_stacks
    if review is None:
        return None
    return ReviewStackSettings(label=review.label, ttl_s=review.ttl, namespace_config=review.namespace_config,
                               url_output=review.url_output)
