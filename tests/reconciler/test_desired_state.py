"""Desired state = commit + config digest: what in the reconciler config must run the stack again, and what must not."""

from __future__ import annotations

import dataclasses
import stat

from reconciler.desired_state import KEY_FILE, config_digest, digest_key
from reconciler.settings import ConfigOverride

KEY = b"k" * 32


def with_config(spec, *overrides: ConfigOverride):
    return dataclasses.replace(spec, config=overrides)


def test_the_key_is_created_private_once_and_reused(tmp_path):
    key = digest_key(tmp_path)
    path = tmp_path / KEY_FILE
    assert len(key) >= 16
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert digest_key(tmp_path) == key  # a restart keeps the stored digests comparable


def test_the_same_config_gives_the_same_digest(tiny_spec):
    spec = with_config(tiny_spec, ConfigOverride("tiny:greeting", "hello"))
    assert config_digest(spec, KEY) == config_digest(dataclasses.replace(spec), KEY)


def test_an_override_value_changes_the_digest(tiny_spec):
    before = config_digest(with_config(tiny_spec, ConfigOverride("tiny:greeting", "hello")), KEY)
    assert config_digest(with_config(tiny_spec, ConfigOverride("tiny:greeting", "hallo")), KEY) != before
    assert config_digest(with_config(tiny_spec, ConfigOverride("tiny:salutation", "hello")), KEY) != before
    assert config_digest(with_config(tiny_spec, ConfigOverride("tiny:greeting", "hello", secret=True)), KEY) != before
    assert config_digest(with_config(tiny_spec), KEY) != before


def test_a_structured_override_changes_the_digest(tiny_spec):
    first = config_digest(with_config(tiny_spec, ConfigOverride("tiny:map", {"a": [1, 2]})), KEY)
    assert config_digest(with_config(tiny_spec, ConfigOverride("tiny:map", {"a": [1, 3]})), KEY) != first


def test_a_rotated_secret_file_changes_the_digest(tiny_spec, tmp_path):
    secret_file = tmp_path / "token"
    secret_file.write_text("first-token\n")
    spec = with_config(tiny_spec, ConfigOverride("tiny:token", "first-token", secret=True, source=secret_file))
    before = config_digest(spec, KEY)
    assert config_digest(spec, KEY) == before
    secret_file.write_text("second-token\n")
    assert config_digest(spec, KEY) != before
    # A file that cannot be read right now keeps the value known last, not a changed desired state.
    secret_file.write_text("first-token\n")
    assert config_digest(spec, KEY) == before
    secret_file.unlink()
    assert config_digest(spec, KEY) == before


def test_env_and_target_change_the_digest(tiny_spec):
    base = config_digest(tiny_spec, KEY)
    assert config_digest(dataclasses.replace(tiny_spec, env=(("AWS_REGION", "eu-west-1"),)), KEY) != base
    assert config_digest(dataclasses.replace(tiny_spec, stack="prod"), KEY) != base
    assert config_digest(dataclasses.replace(tiny_spec, backend_url="file:///elsewhere"), KEY) != base
    assert config_digest(dataclasses.replace(tiny_spec, project_dir="infra"), KEY) != base
    assert config_digest(dataclasses.replace(tiny_spec, repo_url="/another/repo"), KEY) != base


def test_what_does_not_change_the_program_leaves_the_digest(tiny_spec):
    base = config_digest(tiny_spec, KEY)
    assert config_digest(dataclasses.replace(tiny_spec, resync_interval=999), KEY) == base
    assert config_digest(dataclasses.replace(tiny_spec, name="renamed"), KEY) == base


def test_the_digest_reveals_nothing_without_the_key(tiny_spec):
    spec = with_config(tiny_spec, ConfigOverride("tiny:token", "hunter2", secret=True))
    digest = config_digest(spec, KEY)
    assert config_digest(spec, b"x" * 32) != digest  # a keyed hash: guessing the secret needs the key
    assert "hunter2" not in digest
