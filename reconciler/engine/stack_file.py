"""The checkout's Pulumi.<stack>.yaml: its encryption salt and the config values the reconciler overrides.

Edited as YAML data here rather than through the SDK's StackSettings, which
drops structured (map and list) config values when it writes the file back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

import yaml

SALT_KEY = "encryptionsalt"


def stack_file_name(stack: str) -> str:
    """The file's stem for a stack name, qualified (`org/project/stack`) or not.

    The CLI names it after the stack's own name, the last segment (workspace.ProjectStackPath
    with `s.Ref().Name()`, pulumi 3.274; the SDK's get_stack_settings_name does the same).
    """
    return f"Pulumi.{stack.rsplit('/', 1)[-1]}"


class StackFile:
    def __init__(self, project_path: Path, stack: str) -> None:
        candidates = [project_path / f"{stack_file_name(stack)}.{ext}" for ext in ("yaml", "yml", "json")]
        self.path = next((path for path in candidates if path.exists()), candidates[0])

    def read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        data = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{self.path.name}: must be a YAML mapping (config:, encryptionsalt:, ...)")
        return data

    def write(self, data: dict[str, Any]) -> None:
        self.path.write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=False), encoding="utf-8")

    def uses_passphrase(self) -> bool:
        """No other secrets provider is named: Pulumi's default, the passphrase provider, applies."""
        provider = self.read().get("secretsprovider")
        return provider in (None, "", "passphrase") or str(provider).startswith("passphrase")

    def salt(self) -> Optional[str]:
        value = self.read().get(SALT_KEY)
        return value if isinstance(value, str) and value else None

    def set_salt(self, salt: str) -> None:
        data = self.read()
        data[SALT_KEY] = salt
        self.write(data)

    def secure_keys(self) -> set[str]:
        """Config keys held encrypted (`key: {secure: ...}`)."""
        config = self.read().get("config") or {}
        return {key for key, value in config.items() if isinstance(value, dict) and "secure" in value}

    def config_entries(self) -> dict[str, Any]:
        return dict(self.read().get("config") or {})

    def set_config_entries(self, values: dict[str, Any]) -> None:
        """Writes config values as they appear in the file: plain values, or {"secure": ciphertext}."""
        data = self.read()
        config = data.get("config") or {}
        config.update(values)
        data["config"] = config
        self.write(data)


def copy_stack_file(project_path: Path, source: str, target: str, source_salt: Callable[[], Optional[str]]) -> Optional[str]:
    """Stack `source`'s file as stack `target`'s, with source's salt (so target decrypts with source's passphrase).

    Review and unit stacks are made this way. Returns the salt; `source_salt` gives it when the file has none yet.
    """
    data = StackFile(project_path, source).read()
    salt = data.get(SALT_KEY) or source_salt()
    if salt:
        data[SALT_KEY] = salt
    StackFile(project_path, target).write(data)
    return salt
