"""The Pulumi CLI's version is asked once per binary, not once per process (a preview command is a process)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pulumi import automation as auto

from reconciler.engine.cli_version import remembered_pulumi_command

SCRIPT = '#!/bin/sh\nif [ "$1" = version ]; then echo x >> "{asked}"; echo {version}; fi\n'


def install_cli(root: Path, version: str) -> Path:
    """A `pulumi` at root/bin that answers `version` and notes each time it is asked."""
    asked = root / "asked"
    cli = root / "bin" / "pulumi"
    cli.parent.mkdir(parents=True, exist_ok=True)
    cli.write_text(SCRIPT.format(asked=asked, version=version))
    cli.chmod(0o755)
    return asked


def times_asked(asked: Path) -> int:
    return len(asked.read_text().splitlines()) if asked.exists() else 0


def test_the_version_is_asked_once_then_read_back_by_the_next_process(tmp_path):
    asked = install_cli(tmp_path / "cli", "v3.274.1")
    remembered = tmp_path / "state" / "pulumi-version.json"

    first = remembered_pulumi_command(str(tmp_path / "cli"), remembered)
    second = remembered_pulumi_command(str(tmp_path / "cli"), remembered)

    assert times_asked(asked) == 1
    assert str(first.version) == str(second.version) == "3.274.1"
    assert second.command == str(tmp_path / "cli" / "bin" / "pulumi")
    assert remembered.stat().st_mode & 0o077 == 0


def test_another_binary_at_the_same_path_is_asked_again(tmp_path):
    asked = install_cli(tmp_path / "cli", "v3.274.1")
    remembered = tmp_path / "pulumi-version.json"
    remembered_pulumi_command(str(tmp_path / "cli"), remembered)

    install_cli(tmp_path / "cli", "v3.280.0")  # an upgrade in place: another size and mtime

    assert str(remembered_pulumi_command(str(tmp_path / "cli"), remembered).version) == "3.280.0"
    assert times_asked(asked) == 2


def test_a_cli_too_old_for_the_sdk_is_refused_and_not_remembered(tmp_path):
    install_cli(tmp_path / "cli", "v3.0.0")
    remembered = tmp_path / "pulumi-version.json"

    with pytest.raises(auto.errors.InvalidVersionError):
        remembered_pulumi_command(str(tmp_path / "cli"), remembered)
    assert not remembered.exists()


def test_an_unreadable_remembered_file_means_asking_again(tmp_path):
    asked = install_cli(tmp_path / "cli", "v3.274.1")
    remembered = tmp_path / "pulumi-version.json"
    remembered_pulumi_command(str(tmp_path / "cli"), remembered)
    remembered.write_text('{"binary": ')

    assert str(remembered_pulumi_command(str(tmp_path / "cli"), remembered).version) == "3.274.1"
    assert times_asked(asked) == 2
