"""The reconciler's config file: what to keep in sync, where, and how often."""

from .errors import ConfigError
from .loading import load_config
from .model import (
    ConfigOverride,
    CoordinationSettings,
    GitCredentials,
    GitHubSettings,
    HttpSettings,
    PreviewSettings,
    RetryPolicy,
    ReviewStackSettings,
    Secret,
    ServiceConfig,
    StackSpec,
    UnitLink,
    WebhookSettings,
)

__all__ = [
    "ConfigError",
    "ConfigOverride",
    "CoordinationSettings",
    "GitCredentials",
    "GitHubSettings",
    "HttpSettings",
    "PreviewSettings",
    "RetryPolicy",
    "ReviewStackSettings",
    "Secret",
    "ServiceConfig",
    "StackSpec",
    "UnitLink",
    "WebhookSettings",
    "load_config",
]
