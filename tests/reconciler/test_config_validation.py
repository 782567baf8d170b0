"""The whole config file is validated before anything starts; every problem exits with code 2 and says where."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from reconciler.settings import ConfigError, load_config
from testsupport.reconciler_testing import PROJECT_DIR, PYTHON, GitRemote, write_config


def stack_entry(remote: GitRemote, tmp_path: Path, **overrides) -> dict:
    entry = {
        "name": "web",
        "repo": str(remote.bare),
        "branch": "main",
        "stack": "dev",
        "backend_url": f"file://{tmp_path / 'backend'}",
        "virtualenv": str(PROJECT_DIR / ".venv"),
    }
    entry.update(overrides)
    return entry


def cli(config: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR)}
    return subprocess.run(
        [PYTHON, "-m", "reconciler", "once", "--config", str(config), *extra],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60,
    )


def problems_of(config: Path) -> str:
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    return str(raised.value)


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"repo": "--upload-pack=touch /tmp/pwned"}, "starts with '-', which git would read as an option"),
        ({"repo": "ext::sh -c touch% /tmp/pwned"}, "names a git remote helper"),
        ({"repo": {"url": "fd::17"}}, "names a git remote helper"),
        ({"branch": "--output=/tmp/x"}, "starts with '-', which git would read as an option"),
        ({"branch": "feature..x"}, "is not a valid branch name"),
        ({"repo": "https://user:hunter2@example.com/org/repo.git"}, "has credentials in it"),
        ({"repo": "ftp://example.com/repo.git"}, "uses the scheme 'ftp'"),
        ({"repo": "./no-such-folder"}, "neither a URL"),
        ({"brnach": "main"}, "unknown key 'brnach'; did you mean 'branch'?"),
        ({"resync_interval": "soon"}, "'soon' is not a duration"),
        ({"deletion_guard": -1}, "deletion_guard: must be a count"),
        ({"commit": "abc"}, "give a branch or a fixed commit, not both"),
        ({"secrets_passphrase": "plain-text-passphrase"}, "secrets are never written in the config itself"),
        ({"secrets_passphrase": {"env": "RECONCILER_TEST_UNSET_VARIABLE"}}, "RECONCILER_TEST_UNSET_VARIABLE is not set"),
        ({"config": {"kubeconfig": "/x"}}, "namespaced Pulumi config key"),
        ({"backend_url": "/just/a/path"}, "must be a Pulumi backend URL"),
        ({"project_dir": "../outside"}, "must be a folder inside the repository"),
    ],
)
def test_each_bad_value_is_refused_with_exit_code_2_and_a_message_naming_it(remote, tmp_path, overrides, expected):
    config = write_config(tmp_path / "reconciler.yaml", [stack_entry(remote, tmp_path, **overrides)])

    result = cli(config)

    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "stacks[0] (web)" in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "reconciler-state").exists(), "nothing may start on a bad config"


def test_nothing_runs_for_a_git_option_disguised_as_a_url(remote, tmp_path):
    marker = tmp_path / "pwned"
    config = write_config(tmp_path / "reconciler.yaml", [stack_entry(remote, tmp_path, repo=f"--upload-pack=touch {marker}")])

    assert cli(config).returncode == 2
    assert not marker.exists()


def test_every_problem_is_listed_at_once(remote, tmp_path):
    config = write_config(
        tmp_path / "reconciler.yaml",
        [stack_entry(remote, tmp_path, branch="-x"), stack_entry(remote, tmp_path, name="web", workers=3)],
        unknown_top="x",
    )

    message = problems_of(config)

    assert "top level: unknown key 'unknown_top'" in message
    assert "stacks[0] (web): branch: '-x' starts with '-'" in message
    assert "stacks[1] (web): unknown key 'workers'" in message
    assert "stacks (web): the name is used twice" in message


def test_two_entries_for_one_pulumi_stack_are_refused(remote, tmp_path):
    config = write_config(
        tmp_path / "reconciler.yaml", [stack_entry(remote, tmp_path), stack_entry(remote, tmp_path, name="web-again")]
    )

    assert "updates the same Pulumi stack as 'web'" in problems_of(config)


def test_broken_yaml_and_a_missing_file_exit_2(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("stacks: [\n")

    assert cli(broken).returncode == 2
    assert "is not valid YAML" in cli(broken).stderr
    missing = cli(tmp_path / "missing.yaml")
    assert missing.returncode == 2 and "cannot read the file" in missing.stderr


def test_an_unknown_stack_name_exits_2(remote, tmp_path):
    config = write_config(tmp_path / "reconciler.yaml", [stack_entry(remote, tmp_path)])

    result = cli(config, "--stack", "nope")

    assert result.returncode == 2
    assert "--stack nope: no such stack in the config; it has web" in result.stderr


def test_a_valid_config_is_read_with_paths_relative_to_the_file(remote, tmp_path, monkeypatch):
    monkeypatch.setenv("RECONCILER_TEST_TOKEN", "s3cret-token-value")
    config = tmp_path / "reconciler.yaml"
    config.write_text(yaml.safe_dump({
        "state_dir": "state",
        "webhook": {"secret": {"env": "RECONCILER_TEST_TOKEN"}},
        "stacks": [{
            "name": "prod",
            "repo": {"url": "https://github.com/example/service.git",
                     "credentials": {"password": {"env": "RECONCILER_TEST_TOKEN"}}},
            "stack": "prod",
            "backend_url": "file://backend",
            "secrets_passphrase": {"file": "passphrase", "generate": True},
            "paths": ["manifests/", "app/"],
            "virtualenv": str(PROJECT_DIR / ".venv"),
            "config": {
                "pulumi-gitops:kubeconfig": {"path": "kube/config"},
                "pulumi-gitops:registryPassword": {"secret_env": "RECONCILER_TEST_TOKEN"},
                "pulumi-gitops:imageBuildArgs": {"value": {"BASE_IMAGE": "python:3.11"}},
                "pulumi-gitops:protect": True,
            },
        }],
    }))

    loaded = load_config(config)
    spec = loaded.stack("prod")

    assert loaded.state_dir == tmp_path / "state"
    assert spec.backend_url == f"file://{tmp_path / 'backend'}"
    assert spec.branch == "main" and spec.commit is None
    assert spec.deletion_guard == 0, "a prod stack deletes nothing without a trailer unless configured"
    assert spec.drift_interval == 900 and spec.resync_interval == 60
    assert (tmp_path / "passphrase").stat().st_mode & 0o777 == 0o600
    overrides = {override.key: override for override in spec.config}
    assert overrides["pulumi-gitops:kubeconfig"].value == str(tmp_path / "kube" / "config")
    assert overrides["pulumi-gitops:registryPassword"].secret
    assert overrides["pulumi-gitops:imageBuildArgs"].value == {"BASE_IMAGE": "python:3.11"}
    assert overrides["pulumi-gitops:protect"].value == "true"
    assert "s3cret-token-value" in loaded.secrets()
    assert "s3cret-token-value" not in repr(loaded), "secrets never show in reprs"


def test_the_sample_local_config_is_valid():
    loaded = load_config(PROJECT_DIR / "reconciler.local.yaml")

    spec = loaded.stack("local")
    assert spec.repo_url == str(PROJECT_DIR)
    assert spec.stack == "local" and spec.branch == "main"
    assert spec.virtualenv == (PROJECT_DIR / ".venv").resolve(), "paths are resolved (.venv may be a link)"


def test_the_github_section_is_checked_and_defaults_to_github_com(remote, tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_API_URL", raising=False)
    bad = write_config(tmp_path / "bad.yaml", [stack_entry(remote, tmp_path)],
                       github={"api_url": "ftp://example.com", "token_env": "ghp_literal-token", "token": "x"})

    message = problems_of(bad)

    assert "github: unknown key 'token'" in message
    assert "github.api_url: must be an http(s) URL" in message
    assert "github.token_env: must name an environment variable" in message
    default = load_config(write_config(tmp_path / "ok.yaml", [stack_entry(remote, tmp_path)]))
    assert (default.github.api_url, default.github.token_env) == ("https://api.github.com", "GITHUB_TOKEN")


def test_the_sample_aws_config_used_by_the_preview_workflow_is_valid(monkeypatch):
    for name in ("PULUMI_DEV_PASSPHRASE", "PULUMI_PROD_PASSPHRASE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, f"value of {name}")
    loaded = load_config(PROJECT_DIR / "reconciler.aws.yaml")

    assert [(spec.name, spec.stack, spec.branch) for spec in loaded.stacks] == [("dev", "dev", "main"), ("prod", "prod", "main")]
    assert loaded.stack("prod").deletion_guard == 0 and not loaded.stack("prod").auto_remediate
    assert loaded.stack("dev").repo_url == str(PROJECT_DIR), "the workflow's own clone"
    assert loaded.stack("dev").passphrase.origin != loaded.stack("prod").passphrase.origin, "one passphrase per stack"
    assert {name for name, _ in loaded.stack("prod").preview_env} == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
