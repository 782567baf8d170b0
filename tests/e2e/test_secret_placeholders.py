"""`${secret:NAME}` for real: the value comes from encrypted stack config, reaches the cluster, and nothing else.

The state file, the stack file in Git and the output of `up`, preview,
refresh and a failed run are searched for the value, plain and base64. Also:
a ConfigMap's or Secret's new data is an update in place (same uid), not a
replacement.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from testsupport.local_project import LocalProject

pytestmark = pytest.mark.e2e

SECRET_VALUE = "e2e-Secret-Value-4f1c9a"
CHANGED_VALUE = "e2e-Changed-Value-77d0b2"
SECRET = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  password: ${secret:db-password}\nstringData:\n  user: app\n"


def forms(value: str) -> list[str]:
    return [value, base64.b64encode(value.encode()).decode()]


def files_holding(paths: list[Path], value: str) -> list[str]:
    """Every file of paths whose bytes hold value, plain or base64."""
    needles = [form.encode() for form in forms(value)]
    return [str(path) for path in paths if path.is_file() and any(n in path.read_bytes() for n in needles)]


def state_files(project: LocalProject) -> list[Path]:
    return list(project.backend_dir.rglob("*"))


def tracked_files(project: LocalProject) -> list[Path]:
    return [project.root / name for name in project.repo.git.ls_files().splitlines()]


@pytest.fixture(scope="module")
def project(local_env, tmp_path_factory):
    project = LocalProject.create(tmp_path_factory.mktemp("secrets") / "service", local_env)
    project.write("manifests/secret.yaml", SECRET)
    set_secret = project.pulumi("config", "set", "--stack", "local", "--secret", "--path", "pulumi-gitops:secrets.db-password", SECRET_VALUE)
    assert set_secret.returncode == 0, set_secret.output
    project.commit("a Secret whose password comes from encrypted config")
    yield project
    destroyed = project.destroy()
    assert destroyed.returncode == 0, destroyed.output


def test_the_value_reaches_the_cluster_and_neither_git_nor_state_nor_output(project):
    result = project.up()

    assert result.returncode == 0, result.output
    secret = project.get("secret", "db")
    assert base64.b64decode(secret["data"]["password"]).decode() == SECRET_VALUE
    assert SECRET_VALUE not in result.output and forms(SECRET_VALUE)[1] not in result.output
    assert "secure:" in (project.root / "Pulumi.local.yaml").read_text()
    assert files_holding(tracked_files(project), SECRET_VALUE) == []
    assert files_holding(state_files(project), SECRET_VALUE) == []


def test_preview_refresh_and_a_changed_value_show_no_secret(project):
    changed = project.pulumi("config", "set", "--stack", "local", "--secret", "--path", "pulumi-gitops:secrets.db-password", CHANGED_VALUE)
    assert changed.returncode == 0, changed.output
    preview = project.pulumi("preview", "--stack", "local", "--diff")
    refresh = project.pulumi("refresh", "--stack", "local", "--yes", "--skip-preview")
    up = project.up()

    for result in (preview, refresh, up):
        assert result.returncode == 0, result.output
        for value in (SECRET_VALUE, CHANGED_VALUE):
            assert not any(form in result.output for form in forms(value)), result.output
    assert "[secret]" in preview.output
    assert base64.b64decode(project.get("secret", "db")["data"]["password"]).decode() == CHANGED_VALUE
    assert files_holding(state_files(project), CHANGED_VALUE) == []


def test_a_failed_run_shows_no_secret_and_an_unknown_name_is_refused_before_any_write(project):
    project.write("manifests/secret.yaml", SECRET.replace("db-password", "db-pasword"))
    project.commit("a misspelt secret name")

    result = project.up()

    assert result.returncode != 0
    assert "Secret/db: data.password asks for the secret 'db-pasword'" in result.output
    assert not any(form in result.output for value in (SECRET_VALUE, CHANGED_VALUE) for form in forms(value))
    assert files_holding(state_files(project), CHANGED_VALUE) == []
    project.write("manifests/secret.yaml", SECRET)
    project.commit("the name fixed")


def test_config_map_and_secret_data_changes_are_updates_in_place(project):
    config_map, secret = project.get("configmap", "demo-config"), project.get("secret", "db")
    project.write("manifests/configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo-config\ndata:\n  GREETING: updated in place\n")
    project.write("manifests/secret.yaml", SECRET.replace("user: app", "user: admin"))
    project.commit("new data for a ConfigMap and a Secret")

    result = project.up()

    assert result.returncode == 0, result.output
    assert "replace" not in result.output
    assert project.get("configmap", "demo-config")["metadata"]["uid"] == config_map["metadata"]["uid"]
    assert project.get("secret", "db")["metadata"]["uid"] == secret["metadata"]["uid"]
    assert project.get("configmap", "demo-config")["data"] == {"GREETING": "updated in place"}
