"""Pulumi.<stack>.yaml edited as data: the salt, the overrides, structured values kept, bad files named."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from reconciler.engine.stack_file import StackFile
from reconciler.engine.stack_session import ensure_backend_folder, workspace_env
from reconciler.settings import Secret


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_a_missing_file_is_empty_and_created_on_first_write(tmp_path):
    stack_file = StackFile(tmp_path, "dev")
    assert stack_file.path == tmp_path / "Pulumi.dev.yaml"
    assert stack_file.read() == {} and stack_file.salt() is None and stack_file.uses_passphrase()
    stack_file.set_salt("v1:salt")
    assert yaml.safe_load(stack_file.path.read_text()) == {"encryptionsalt": "v1:salt"}


def test_the_existing_extension_is_used(tmp_path):
    write(tmp_path, "Pulumi.dev.yml", "config: {}\n")
    assert StackFile(tmp_path, "dev").path.name == "Pulumi.dev.yml"


def test_overrides_keep_structured_and_committed_values(tmp_path):
    write(tmp_path, "Pulumi.dev.yaml",
          "encryptionsalt: v1:s\nconfig:\n  tiny:list: [1, 2]\n  tiny:token:\n    secure: v1:cipher\n")
    stack_file = StackFile(tmp_path, "dev")
    stack_file.set_config_entries({"tiny:greeting": "hi", "tiny:map": {"a": {"b": 1}}})
    data = yaml.safe_load(stack_file.path.read_text())
    assert data["encryptionsalt"] == "v1:s"
    assert data["config"] == {
        "tiny:list": [1, 2], "tiny:token": {"secure": "v1:cipher"}, "tiny:greeting": "hi", "tiny:map": {"a": {"b": 1}},
    }
    assert stack_file.secure_keys() == {"tiny:token"}
    assert stack_file.config_entries()["tiny:greeting"] == "hi"


@pytest.mark.parametrize("provider, passphrase", [
    (None, True), ("passphrase", True), ("awskms://alias/x", False), ("hashivault://k", False),
])
def test_the_passphrase_provider_is_the_default(tmp_path, provider, passphrase):
    text = "config: {}\n" if provider is None else f"secretsprovider: {provider}\n"
    write(tmp_path, "Pulumi.dev.yaml", text)
    assert StackFile(tmp_path, "dev").uses_passphrase() is passphrase


def test_a_file_that_is_not_a_mapping_is_named(tmp_path):
    write(tmp_path, "Pulumi.dev.yaml", "- just\n- a list\n")
    with pytest.raises(ValueError, match="Pulumi.dev.yaml: must be a YAML mapping"):
        StackFile(tmp_path, "dev").read()


def test_the_engine_environment_wins_over_inherited_settings(tiny_spec, monkeypatch, tmp_path):
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "inherited")
    spec = dataclasses.replace(tiny_spec, passphrase=Secret("from-config", "env X"),
                               env=(("PULUMI_K8S_ENABLE_PATCH_FORCE", "false"), ("EXTRA", "1")))
    env = workspace_env(spec)
    assert env["PULUMI_CONFIG_PASSPHRASE"] == "from-config"
    assert env["PULUMI_BACKEND_URL"] == spec.backend_url
    assert env["PULUMI_K8S_ENABLE_PATCH_FORCE"] == "false"  # a stack's env may turn it off
    assert env["EXTRA"] == "1"
    assert env["PATH"].split(":")[0] == str(spec.virtualenv / "bin")
    backend = tmp_path / "new-backend" / "deep"
    ensure_backend_folder(dataclasses.replace(spec, backend_url=f"file://{backend}?no_legacy_url_encoding=true"))
    assert backend.is_dir()
