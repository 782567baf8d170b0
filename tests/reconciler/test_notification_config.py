"""The `notifications:` section and each stack's `events:`: what they accept, what they refuse and how they say so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.settings import ConfigError, load_config
from reconciler.settings.notification_settings import EventsTarget
from testsupport.reconciler_testing import run_cli, tiny_stack, write_config

HOOK = {"name": "hook", "type": "webhook", "url": "https://hooks.example.com/gitops", "secret": {"env": "NOTIFY_KEY"}}
SLACK_URL = "https://hooks.slack.com/services/T000/B000/abcdefSECRET"


@pytest.fixture(autouse=True)
def secrets_in_env(monkeypatch):
    monkeypatch.setenv("NOTIFY_KEY", "hmac-key-for-tests")
    monkeypatch.setenv("NOTIFY_SLACK_URL", SLACK_URL)


def config_path(tmp_path: Path, remote, notifications: Any = None, **stack: Any) -> Path:
    top = {} if notifications is None else {"notifications": notifications}
    return write_config(tmp_path / "reconciler.yaml", [tiny_stack(remote, tmp_path / "backend", secrets_passphrase=None, **stack)], **top)


def problems_of(path: Path) -> str:
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(path) in str(raised.value)
    return str(raised.value)


@pytest.mark.parametrize("notifications, expected", [
    ({"sinks": [{**HOOK, "rate": 5}]}, "notifications.sinks[0] (hook): unknown key 'rate'; known keys: name, type, url"),
    ({"sinks": [{**HOOK, "type": "teams"}]}, "notifications.sinks[0] (hook): type: must be 'webhook' or 'slack', got 'teams'"),
    ({"sinks": [{**HOOK, "secret": None}]}, "notifications.sinks[0] (hook): a webhook is signed; give secret as {env: NAME} or {file: PATH}"),
    ({"sinks": [{**HOOK, "secret": "plain-key"}]}, "notifications.sinks[0] (hook): secret: must be {env: ...} or {file: ...}"),
    ({"sinks": [{"name": "chat", "type": "slack", "url": SLACK_URL}]},
     "notifications.sinks[0] (chat): a Slack webhook URL holds its token; give url as {env: NAME} or {file: PATH}"),
    ({"sinks": [{"name": "chat", "type": "slack", "url": {"env": "NOTIFY_SLACK_URL"}, "secret": {"env": "NOTIFY_KEY"}}]},
     "notifications.sinks[0] (chat): secret (the HMAC key) is for type webhook"),
    ({"sinks": [{**HOOK, "url": "ftp://example.com"}]}, "notifications.sinks[0] (hook): url: must be an http(s) URL"),
    ({"sinks": [{**HOOK, "results": ["failed", "exploded"]}]}, "notifications.sinks[0] (hook): results.1: must be 'applied', 'skipped', 'failed', 'blocked', 'drifted' or 'remediated', got 'exploded'"),
    ({"sinks": [{**HOOK, "rate_limit": {"messages": 0}}]}, "notifications.sinks[0] (hook): rate_limit.messages: must be a whole number of at least 1"),
    ({"sinks": [HOOK, HOOK]}, "notifications.sinks: the sink name hook is used twice"),
    ({"sinks": [HOOK], "link": "https://ci.example.com/{stack}/{branch}"}, "notifications.link: knows {stack}, {commit}, {short_commit}, {result}; not branch"),
    ({"sinks": [{**HOOK, "stacks": ["tiny", "nope"]}]}, "notifications.sinks[0] (hook): stacks: 'nope' is not a stack in this file (tiny)"),
])
def test_a_bad_notifications_value_is_named_with_its_fix(tmp_path, remote, notifications, expected):
    assert expected in problems_of(config_path(tmp_path, remote, notifications))


@pytest.mark.parametrize("events, expected", [
    ({"namespace": "Bad_NS"}, "stacks[0] (tiny): events.namespace: must be a Kubernetes namespace name"),
    ({"kubeconfg": "x"}, "stacks[0] (tiny): events: unknown key 'kubeconfg'; did you mean 'kubeconfig'?"),
    ({"enabled": "yes"}, "stacks[0] (tiny): events.enabled: must be true or false"),
])
def test_a_bad_events_value_is_named_with_its_fix(tmp_path, remote, events, expected):
    assert expected in problems_of(config_path(tmp_path, remote, events=events))


def test_the_cli_refuses_a_bad_sink_with_exit_2_naming_the_file_and_key(tmp_path, remote, engine_env):
    path = config_path(tmp_path, remote, {"sinks": [{"name": "chat", "type": "slack", "url": SLACK_URL}]})
    result = run_cli("once", "--config", str(path), env=engine_env)
    assert result.returncode == 2
    assert str(path) in result.stderr and "notifications.sinks[0] (chat): a Slack webhook URL holds its token" in result.stderr
    assert "abcdefSECRET" not in result.stderr, "the refused URL is not printed back"


def test_sinks_are_read_with_their_defaults_and_their_secrets_are_redacted(tmp_path, remote):
    config = load_config(config_path(tmp_path, remote, {
        "link": "https://ci.example.com/{stack}",
        "sinks": [HOOK, {"name": "chat", "type": "slack", "url": {"env": "NOTIFY_SLACK_URL"}, "stacks": ["tiny"],
                         "rate_limit": {"messages": 3, "per": "10m"}}],
    }))
    hook, chat = config.notifications.sinks
    assert hook.results == {"applied", "failed", "blocked", "drifted", "remediated"}, "skipped runs changed nothing"
    assert (hook.rate_limit.messages, hook.rate_limit.per_s, hook.timeout_s, hook.retries) == (20, 60, 10, 5)
    assert hook.address() == "https://hooks.example.com/gitops" and hook.secret.value == "hmac-key-for-tests"
    assert chat.address() == SLACK_URL and chat.stacks == {"tiny"} and (chat.rate_limit.messages, chat.rate_limit.per_s) == (3, 600)
    assert config.notifications.link == "https://ci.example.com/{stack}"
    secrets = config.secrets()
    assert "hmac-key-for-tests" in secrets and SLACK_URL in secrets
    assert "/services/T000/B000/abcdefSECRET" in secrets, "the path alone, as HTTP libraries log it"
    assert "https://hooks.example.com/gitops" not in secrets, "a plain webhook URL is not a secret"


def test_events_go_to_the_cluster_the_stack_config_names_unless_the_entry_says_otherwise(tmp_path, remote):
    kubeconfig = tmp_path / "cluster.kubeconfig"
    program = {"pulumi-gitops:kubeconfig": {"path": str(kubeconfig)}, "pulumi-gitops:kubeContext": "gitops-local"}

    def events_of(**stack: Any) -> EventsTarget | None:
        return load_config(config_path(tmp_path, remote, **stack)).stacks[0].events

    assert events_of() is None, "no kubeconfig known: no Events"
    assert events_of(config=program) == EventsTarget(kubeconfig, "gitops-local", "default")
    assert events_of(config={"pulumi-gitops:kubeconfig": str(kubeconfig)}) == EventsTarget(kubeconfig, None, "default")
    assert events_of(config={"pulumi-gitops:kubeconfig": ".state/kubeconfig"}) is None, "relative to a checkout not known yet"
    assert events_of(config=program, events={"namespace": "gitops"}) == EventsTarget(kubeconfig, "gitops-local", "gitops")
    assert events_of(config=program, events={"enabled": False}) is None
    own = tmp_path / "events.kubeconfig"
    assert events_of(config=program, events={"kubeconfig": "events.kubeconfig", "context": "ops"}) == EventsTarget(own, "ops", "default")
    assert events_of(config=program, events={"kubeconfig": "events.kubeconfig"}) == EventsTarget(own, None, "default"), (
        "the program's context belongs to the program's kubeconfig"
    )
