"""The `previews:` section and a stack's `preview_env:` in the reconciler config: read, or refused with what to fix."""

from __future__ import annotations

import pwd
from pathlib import Path

import pytest

from reconciler.settings import ConfigError, PreviewSettings, Secret, load_config
from testsupport.reconciler_testing import GitRemote, tiny_stack, write_config


def load(tmp_path, stack_overrides=None, **top):
    remote = GitRemote(tmp_path / "repo")
    stack = tiny_stack(remote, tmp_path / "backend", secrets_passphrase=None, **(stack_overrides or {}))
    return load_config(write_config(tmp_path / "reconciler.yaml", [stack], **top))


def test_without_a_previews_section_members_label_and_command_are_trusted_for_ten_minutes(tmp_path):
    settings = load(tmp_path).previews

    assert settings == PreviewSettings()
    assert (settings.trusted_associations, settings.label, settings.command, settings.forks, settings.timeout_s) == \
        (("OWNER", "MEMBER", "COLLABORATOR"), "preview", "/preview", False, 600.0)
    assert settings.user == (65532, 65532), "previews run as a fixed high uid and gid nobody else uses"


def test_a_previews_section_is_read(tmp_path):
    settings = load(tmp_path, previews={"trusted_associations": ["OWNER"], "label": "safe to preview", "command": None,
                                        "forks": True, "timeout": "90s"}).previews

    assert settings == PreviewSettings(("OWNER",), "safe to preview", None, True, 90.0)


@pytest.mark.parametrize(("written", "ids"), [("1234:5678", (1234, 5678)), ("4321", (4321, 4321)), (None, None)])
def test_the_preview_user_is_written_as_uid_and_gid_or_null_for_root(tmp_path, written, ids):
    assert load(tmp_path, previews={"user": written}).previews.user == ids


def test_the_preview_user_may_be_named(tmp_path):
    nobody = pwd.getpwnam("nobody")

    assert load(tmp_path, previews={"user": "nobody"}).previews.user == (nobody.pw_uid, nobody.pw_gid)


@pytest.mark.parametrize("written", ["0", "0:0", "root", "no-such-user-93", "1000:", "a user"])
def test_root_or_an_unknown_user_as_the_preview_user_is_refused(tmp_path, written):
    with pytest.raises(ConfigError, match=r"previews.user: must be UID:GID or UID \(not 0\), the name of a user"):
        load(tmp_path, previews={"user": written})


def test_preview_files_are_read_relative_to_the_config(tmp_path):
    spec = load(tmp_path, {"preview_files": ["kube/preview.yaml", "/etc/ssl/certs"]}).stack("tiny")

    assert spec.preview_files == (tmp_path / "kube" / "preview.yaml", Path("/etc/ssl/certs"))


def test_preview_env_holds_plain_values_and_secrets_read_from_env_or_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PREVIEW_AWS_SECRET", "read-only-secret")
    key_file = tmp_path / "key"
    key_file.write_text("file-secret\n")

    spec = load(tmp_path, {"preview_env": {"AWS_ACCESS_KEY_ID": "AKIA1", "AWS_SECRET_ACCESS_KEY": {"env": "PREVIEW_AWS_SECRET"},
                                           "TOKEN": {"file": str(key_file)}, "RETRIES": 3}}).stack("tiny")

    env = dict(spec.preview_env)
    assert env["AWS_ACCESS_KEY_ID"] == "AKIA1" and env["RETRIES"] == "3"
    assert isinstance(env["AWS_SECRET_ACCESS_KEY"], Secret) and env["AWS_SECRET_ACCESS_KEY"].value == "read-only-secret"
    assert env["TOKEN"].value == "file-secret"


def test_bad_previews_and_preview_env_name_the_key_and_what_to_write(tmp_path):
    with pytest.raises(ConfigError) as error:
        load(tmp_path, {"preview_env": {"1BAD": "x", "MISSING": {"env": "NOT_SET_ANYWHERE_31"}}},
             previews={"trusted_associations": ["ADMIN"], "label": "", "command": "preview", "forks": "yes", "timeout": "soon",
                       "sandbox": True})

    text = str(error.value)
    for expected in ("previews.trusted_associations: must be a list of GitHub author associations",
                     "previews.label: must be like 'preview'", "previews.command: must be like '/preview'",
                     "previews.forks: must be true or false", "previews.timeout:", "previews: unknown key 'sandbox'",
                     "preview_env.1BAD: the key must be an environment variable name",
                     "preview_env.MISSING: the environment variable NOT_SET_ANYWHERE_31 is not set"):
        assert expected in text
