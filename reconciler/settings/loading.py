"""load_config: reads the reconciler's YAML file and validates all of it before anything starts.

Every problem is collected, so one run of the service names them all; any
problem makes the whole file unusable (exit code 2).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Optional

import yaml

from .errors import ConfigError
from .model import GitHubSettings, HttpSettings, PreviewSettings, RetryPolicy, ServiceConfig, StackSpec, WebhookSettings
from .problems import Problems, duration, integer, secret
from .stack_entry import check_unique, stack_entry

TOP_KEYS = (
    "state_dir", "listen", "workers", "log_format", "log_level", "pulumi", "webhook", "github", "http", "retry",
    "previews", "stacks",
)
GITHUB_KEYS = ("api_url", "token_env")
WEBHOOK_KEYS = ("secret", "max_body_bytes")
HTTP_KEYS = ("allowed_hosts", "status_token", "status_auth", "max_connections", "request_timeout", "workers")
STATUS_AUTH_MODES = ("non-loopback", "always")
# A name or address as it appears in a Host header, without the port.
_HOST_NAME = re.compile(r"[a-z0-9._-]+|\[?[0-9a-f:.]+\]?")
PREVIEW_KEYS = ("trusted_associations", "label", "command", "forks", "timeout")
# GitHub's author_association values (REST API, "author_association").
ASSOCIATIONS = ("OWNER", "MEMBER", "COLLABORATOR", "CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR", "FIRST_TIMER", "MANNEQUIN", "NONE")
RETRY_KEYS = ("unreachable_delay", "concurrent_delay", "backoff_base", "backoff_cap")


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
    problems = Problems()
    config = _service(document, config_path, problems)
    if problems.items or config is None:
        raise ConfigError(str(path), problems.items)
    return config


def _service(doc: dict, config_path: Path, problems: Problems) -> Optional[ServiceConfig]:
    base = config_path.parent
    problems.unknown_keys("top level", doc, TOP_KEYS)
    host, port = _listen(doc.get("listen", "127.0.0.1:8099"), problems)
    workers = integer(doc.get("workers", 2), "workers", problems, minimum=1)
    log_format = doc.get("log_format", "text")
    if log_format not in ("text", "json"):
        problems.add("log_format", f"must be text or json, got {log_format!r}")
    log_level = str(doc.get("log_level", "INFO")).upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        problems.add("log_level", f"must be DEBUG, INFO, WARNING or ERROR, got {log_level!r}")
    pulumi_command = None
    if doc.get("pulumi") is not None:
        pulumi_command = (base / os.path.expanduser(str(doc["pulumi"]))).resolve()
        if not os.access(pulumi_command, os.X_OK):
            problems.add("pulumi", f"{pulumi_command} is not an executable pulumi CLI")

    stacks_doc = doc.get("stacks")
    stacks: list[StackSpec] = []
    if not isinstance(stacks_doc, list) or not stacks_doc:
        problems.add("stacks", "must be a non-empty list of stacks to keep in sync")
    else:
        for index, entry in enumerate(stacks_doc):
            spec = stack_entry(entry, index, base, problems)
            if spec is not None:
                stacks.append(spec)
        check_unique(stacks, problems)

    return ServiceConfig(
        path=config_path,
        state_dir=(base / os.path.expanduser(str(doc.get("state_dir", ".reconciler")))).resolve(),
        listen_host=host,
        listen_port=port,
        workers=workers,
        log_format=log_format,
        log_level=log_level,
        webhook=_webhook(doc.get("webhook") or {}, base, problems),
        retry=_retry(doc.get("retry") or {}, problems),
        stacks=tuple(stacks),
        pulumi_command=pulumi_command,
        github=_github(doc.get("github") or {}, problems),
        http=_http(doc.get("http") or {}, base, problems),
        previews=_previews(doc.get("previews") or {}, problems),
    )


def _listen(value: Any, problems: Problems) -> tuple[str, int]:
    text = str(value)
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        problems.add("listen", f"must be HOST:PORT like 127.0.0.1:8099, got {text!r}")
        return "127.0.0.1", 0
    return host.strip("[]"), int(port)


def _webhook(doc: Any, base: Path, problems: Problems) -> WebhookSettings:
    if not isinstance(doc, dict):
        problems.add("webhook", "must be a mapping with secret and max_body_bytes")
        return WebhookSettings()
    problems.unknown_keys("webhook", doc, WEBHOOK_KEYS)
    hook_secret = secret(doc["secret"], "webhook.secret", base, problems) if "secret" in doc else None
    max_body = integer(doc.get("max_body_bytes", 1_048_576), "webhook.max_body_bytes", problems, minimum=1)
    return WebhookSettings(secret=hook_secret, max_body_bytes=max_body)


def _github(doc: Any, problems: Problems) -> GitHubSettings:
    defaults = GitHubSettings(api_url=os.environ.get("GITHUB_API_URL") or GitHubSettings.api_url)
    if not isinstance(doc, dict):
        problems.add("github", f"must be a mapping of {', '.join(GITHUB_KEYS)}")
        return defaults
    problems.unknown_keys("github", doc, GITHUB_KEYS)
    api_url = doc.get("api_url", defaults.api_url)
    if not isinstance(api_url, str) or not re.match(r"^https?://[^/\s]+", api_url):
        problems.add("github.api_url", f"must be an http(s) URL like https://api.github.com, got {api_url!r}")
        api_url = defaults.api_url
    token_env = doc.get("token_env", defaults.token_env)
    if not isinstance(token_env, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", token_env):
        problems.add("github.token_env", f"must name an environment variable (the token is never written in this file), got {token_env!r}")
        token_env = defaults.token_env
    return GitHubSettings(api_url=api_url.rstrip("/"), token_env=token_env)


def _http(doc: Any, base: Path, problems: Problems) -> HttpSettings:
    defaults = HttpSettings()
    if not isinstance(doc, dict):
        problems.add("http", f"must be a mapping of {', '.join(HTTP_KEYS)}")
        return defaults
    problems.unknown_keys("http", doc, HTTP_KEYS)
    hosts = doc.get("allowed_hosts", [])
    if not isinstance(hosts, list) or not all(isinstance(h, str) and _HOST_NAME.fullmatch(h.lower()) for h in hosts):
        problems.add("http.allowed_hosts", f"must be a list of host names or addresses without ports, like [hooks.example.com], got {hosts!r}")
        hosts = []
    token = secret(doc["status_token"], "http.status_token", base, problems) if "status_token" in doc else None
    status_auth = doc.get("status_auth", defaults.status_auth)
    if status_auth not in STATUS_AUTH_MODES:
        problems.add("http.status_auth", f"must be {' or '.join(STATUS_AUTH_MODES)}, got {status_auth!r}")
        status_auth = defaults.status_auth
    if status_auth == "always" and token is None and "status_token" not in doc:
        problems.add("http.status_auth", "is `always` but http.status_token is not set: give the token as {env: ...} or {file: ...}")
    timeout = duration(doc.get("request_timeout", defaults.request_timeout), "http.request_timeout", problems)
    if timeout is not None and timeout <= 0:
        problems.add("http.request_timeout", "must be longer than 0s")
    return HttpSettings(
        allowed_hosts=tuple(host.lower().strip("[]") for host in hosts),
        status_token=token,
        status_auth=status_auth,
        max_connections=integer(doc.get("max_connections", defaults.max_connections), "http.max_connections", problems, minimum=1),
        request_timeout=timeout or defaults.request_timeout,
        workers=integer(doc.get("workers", defaults.workers), "http.workers", problems, minimum=1),
    )


def _previews(doc: Any, problems: Problems) -> PreviewSettings:
    defaults = PreviewSettings()
    if not isinstance(doc, dict):
        problems.add("previews", f"must be a mapping of {', '.join(PREVIEW_KEYS)}")
        return defaults
    problems.unknown_keys("previews", doc, PREVIEW_KEYS)
    trusted = doc.get("trusted_associations", list(defaults.trusted_associations))
    if not isinstance(trusted, list) or not all(item in ASSOCIATIONS for item in trusted):
        problems.add("previews.trusted_associations", f"must be a list of GitHub author associations ({', '.join(ASSOCIATIONS)}), "
                     f"got {trusted!r}")
        trusted = list(defaults.trusted_associations)
    texts = {}
    for key, pattern in (("label", r"[^\s,][^,]{0,49}"), ("command", r"/[A-Za-z0-9][A-Za-z0-9_-]*")):
        value = doc.get(key, getattr(defaults, key))
        if value is not None and (not isinstance(value, str) or not re.fullmatch(pattern, value)):
            example = "preview" if key == "label" else "/preview"
            problems.add(f"previews.{key}", f"must be like {example!r} (or null for none), got {value!r}")
            value = getattr(defaults, key)
        texts[key] = value
    forks = doc.get("forks", defaults.forks)
    if not isinstance(forks, bool):
        problems.add("previews.forks", f"must be true or false, got {forks!r}")
        forks = defaults.forks
    timeout = duration(doc.get("timeout", "10m"), "previews.timeout", problems) or defaults.timeout_s
    return PreviewSettings(trusted_associations=tuple(trusted), label=texts["label"], command=texts["command"], forks=forks,
                           timeout_s=timeout)


def _retry(doc: Any, problems: Problems) -> RetryPolicy:
    if not isinstance(doc, dict):
        problems.add("retry", f"must be a mapping of {', '.join(RETRY_KEYS)}")
        return RetryPolicy()
    problems.unknown_keys("retry", doc, RETRY_KEYS)
    defaults = RetryPolicy()
    values = {
        key: duration(doc.get(key, getattr(defaults, key)), f"retry.{key}", problems) or getattr(defaults, key)
        for key in RETRY_KEYS
    }
    policy = RetryPolicy(**values)
    if policy.backoff_cap < policy.backoff_base:
        problems.add("retry.backoff_cap", "must be at least retry.backoff_base")
    return policy
