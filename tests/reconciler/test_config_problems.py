"""Each bad value of the config is refused by load_config, naming the file, the entry and the key, with what to do.

In-process companions of test_config_validation.py (which runs the CLI for a sample of them).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.settings import ConfigError, load_config
from testsupport.reconciler_testing import PROJECT_DIR, tiny_stack, write_config


def problems_of(path: Path) -> str:
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    text = str(raised.value)
    assert str(path) in text
    return text


@pytest.fixture
def entry(remote, tmp_path):
    def make(**overrides):
        return tiny_stack(remote, tmp_path / "backend", secrets_passphrase=None, **overrides)

    return make


HTTPS = "https://example.com/o/r.git"


@pytest.mark.parametrize("overrides, expected", [
    ({"name": "bad name!"}, "stacks[0] (bad name!): name: 'bad name!' must be letters, digits"),
    ({"stack": "-x"}, "stacks[0] (tiny): stack: must be a Pulumi stack name"),
    ({"repo": 42}, "repo: must be a URL, or a mapping with url"),
    ({"repo": {"url": HTTPS, "token": "x"}}, "unknown key 'token'"),
    ({"repo": {"url": HTTPS, "credentials": "hunter2"}}, "repo.credentials: must be a mapping"),
    ({"repo": {"url": HTTPS, "credentials": {"username": "a:b"}}}, "username: must be a user name without ':'"),
    ({"repo": {"url": HTTPS, "credentials": {"ssh_key_file": "no-such-key"}}}, "no-such-key is not a file"),
    ({"repo": {"url": "git@example.com:o/r.git", "credentials": {"password": {"env": "HOME"}}}}, "is for https URLs"),
    ({"commit": "abc", "branch": None}, "commit: 'abc' is not a full commit hash"),
    ({"backend_url": "gopher://x"}, "scheme 'gopher' is not one of"),
    ({"auto_remediate": "yes"}, "auto_remediate: must be true or false"),
    ({"operation_timeout": "3h"}, "lock_stale_after: must be longer than operation_timeout"),
    ({"paths": "manifests"}, "paths: must be a list of folders or files"),
    ({"paths": ["../up"]}, "'../up' must be relative to the repository root"),
    ({"guard_manifests": ["/abs"]}, "guard_manifests: '/abs' must be relative"),
    ({"deletion_guard": True}, "deletion_guard: must be a count"),
    ({"virtualenv": "no-such-venv"}, "has no bin/python; create it with `make venv`"),
    ({"config": ["a"]}, "config: must be a mapping of Pulumi config key to value"),
    ({"config": {"tiny:x": [1]}}, "config.tiny:x: must be a plain value or one of"),
    ({"config": {"tiny:x": {"secret_file": "no-such-file"}}}, "config.tiny:x: cannot read"),
    ({"env": {"1BAD": "x"}}, "env.1BAD: the key must be an environment variable name"),
    ({"program_retries": -1}, "program_retries"),
])
def test_a_bad_stack_value_is_named_with_its_fix(tmp_path, entry, overrides, expected):
    path = write_config(tmp_path / "reconciler.yaml", [entry(**overrides)])
    assert expected in problems_of(path)


def test_a_stack_entry_that_is_not_a_mapping(tmp_path):
    assert "stacks[0]: must be a mapping" in problems_of(write_config(tmp_path / "reconciler.yaml", ["just-a-name"]))


def test_override_forms_and_plain_values_are_read(tmp_path, entry, monkeypatch):
    monkeypatch.setenv("TINY_TOKEN", "from-the-env")
    (tmp_path / "token.txt").write_text("from-a-file\n")
    path = write_config(tmp_path / "reconciler.yaml", [entry(
        config={"tiny:flag": True, "tiny:count": 3, "tiny:kubeconfig": {"path": "kube/config"},
                "tiny:token": {"secret_env": "TINY_TOKEN"}, "tiny:key": {"secret_file": "token.txt"},
                "tiny:map": {"value": {"a": [1, 2]}}},
        env={"FEATURE": True, "LEVEL": 2}, commit="a" * 40, branch=None, paths=["manifests/"],
        backend_url="file://relative-backend?no_legacy_url_encoding=true", virtualenv=str(PROJECT_DIR / ".venv"),
    )])
    spec = load_config(path).stacks[0]
    overrides = {o.key: o for o in spec.config}
    assert overrides["tiny:flag"].value == "true" and overrides["tiny:count"].value == "3"
    assert overrides["tiny:kubeconfig"].value == str(tmp_path / "kube" / "config")
    assert (overrides["tiny:token"].value, overrides["tiny:token"].secret) == ("from-the-env", True)
    assert overrides["tiny:key"].value == "from-a-file" and overrides["tiny:key"].source == tmp_path / "token.txt"
    assert overrides["tiny:map"].value == {"a": [1, 2]} and not overrides["tiny:map"].secret
    assert dict(spec.env) == {"FEATURE": "true", "LEVEL": "2"}
    assert (spec.branch, spec.commit, spec.tracks) == (None, "a" * 40, "commit " + "a" * 40)
    assert spec.backend_url == f"file://{tmp_path / 'relative-backend'}"
    assert spec.paths == ("manifests/",)


def test_a_prod_stack_is_guarded_by_default(tmp_path, entry):
    path = write_config(tmp_path / "reconciler.yaml", [entry(stack="prod"), entry(name="other", stack="dev")])
    guards = {spec.name: spec.deletion_guard for spec in load_config(path).stacks}
    assert guards == {"tiny": 0, "other": None}


@pytest.mark.parametrize("top, expected", [
    ({"listen": "8099"}, "listen: must be HOST:PORT like 127.0.0.1:8099"),
    ({"listen": "127.0.0.1:70000"}, "listen: must be HOST:PORT"),
    ({"workers": 0}, "workers"),
    ({"log_format": "xml"}, "log_format: must be 'text' or 'json'"),
    ({"log_level": "loud"}, "log_level: must be DEBUG, INFO, WARNING or ERROR"),
    ({"pulumi": "no-such-cli"}, "is not an executable pulumi CLI"),
    ({"webhook": "s3cret"}, "webhook: must be a mapping of secret, max_body_bytes"),
    ({"github": "api.github.com"}, "github: must be a mapping of"),
    ({"github": {"api_url": "ftp://x"}}, "github.api_url: must be an http(s) URL"),
    ({"github": {"token_env": "ghp_abc def"}}, "github.token_env: must name an environment variable"),
    ({"http": "open"}, "http: must be a mapping of"),
    ({"http": {"allowed_hosts": ["hooks.example.com:443"]}}, "http.allowed_hosts: must be a list of host names"),
    ({"http": {"status_auth": "sometimes"}}, "http.status_auth: must be"),
    ({"http": {"status_auth": "always"}}, "is `always` but http.status_token is not set"),
    ({"http": {"request_timeout": 0}}, "http.request_timeout: must be longer than 0s"),
    ({"retry": 5}, "retry: must be a mapping of"),
    ({"retry": {"backoff_base": "10m", "backoff_cap": "1m"}}, "retry.backoff_cap: must be at least retry.backoff_base"),
    ({"stacks": []}, "stacks: must be a non-empty list"),
])
def test_a_bad_top_level_value_is_named_with_its_fix(tmp_path, entry, top, expected):
    stacks = top.pop("stacks", [entry()])
    path = write_config(tmp_path / "reconciler.yaml", stacks, **top)
    assert expected in problems_of(path)


@pytest.mark.parametrize("text, expected", [
    ("stacks: [\n", "is not valid YAML"),
    ("- a list\n", "must be a YAML mapping with a `stacks:` list"),
])
def test_a_file_that_is_not_a_config(tmp_path, text, expected):
    path = tmp_path / "reconciler.yaml"
    path.write_text(text)
    assert expected in problems_of(path)
    assert "cannot read the file" in problems_of(tmp_path / "missing.yaml")


def test_unknown_keys_are_refused_in_every_section_with_the_closest_known_one(tmp_path, entry):
    path = write_config(
        tmp_path / "reconciler.yaml",
        [entry(repo={"url": HTTPS, "credentials": {"pasword": {"env": "HOME"}}}, resync_intervl="1m")],
        retry={"backof_cap": "1m"}, http={"worker": 2},
    )

    text = problems_of(path)

    assert "stacks[0] (tiny): repo.credentials: unknown key 'pasword'; did you mean 'password'?" in text
    assert "stacks[0] (tiny): unknown key 'resync_intervl'; did you mean 'resync_interval'?" in text
    assert "retry: unknown key 'backof_cap'; did you mean 'backoff_cap'?" in text
    assert "http: unknown key 'worker'; did you mean 'workers'?" in text
    assert "4 problems" in text, "each problem once, all of them in one run"


def test_a_stack_entry_without_its_required_keys_names_each(tmp_path):
    path = write_config(tmp_path / "reconciler.yaml", [{"name": "bare"}])

    text = problems_of(path)

    assert "stacks[0] (bare): repo: is required" in text
    assert "stacks[0] (bare): backend_url: is required" in text
