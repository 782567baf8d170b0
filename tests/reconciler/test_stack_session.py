"""StackSession against a CLI that answers like pulumi (fake_pulumi_cli.py): the salt, the overrides, the secrets.

What is checked is which CLI calls the session makes and what it leaves in Pulumi.<stack>.yaml: a fresh
checkout keeps the stack's salt, secret overrides are encrypted once per salt and value, committed secrets
are learned for redaction once per stack file.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import sys
from pathlib import Path

import pytest
import yaml
from pulumi import automation as auto

from reconciler.engine.ciphertexts import Ciphertexts
from reconciler.engine.stack_session import StackSession
from reconciler.engine.supervised_command import SupervisedCommand
from reconciler.settings import ConfigOverride
from reconciler.telemetry.redaction import Redactor
from testsupport import fake_pulumi_cli
from testsupport.fake_pulumi_cli import NEW_SALT, write_stack_state
from testsupport.stub_pulumi import StubPulumi

FAKE_CLI = Path(fake_pulumi_cli.__file__)
STATE_SALT = "v1:salt-of-the-state"


class Harness:
    def __init__(self, tmp_path: Path, spec) -> None:
        self.stub = StubPulumi(tmp_path / "cli")
        self.stub.behave(f'exec "{sys.executable}" "{FAKE_CLI}" "{self.stub.root}" "$@"\n')
        (self.stub.root / "calls.jsonl").touch()  # the fake records every call's argv
        self.project = tmp_path / "project"
        self.project.mkdir()
        (self.project / "Pulumi.yaml").write_text("name: tiny\nruntime: python\n")
        self.redactor = Redactor([])
        self.remembered: list[str] = []
        self.spec = spec

    def session(self, remembered: str | None = None, create: bool = True, ciphertexts: Ciphertexts | None = None,
                command: SupervisedCommand | None = None, **changes) -> StackSession:
        spec = dataclasses.replace(self.spec, **changes)
        command = command or SupervisedCommand(str(self.stub.root), deadline_s=60)
        return StackSession(spec, self.project, command, self.redactor, remembered_salt=lambda: remembered,
                            remember_salt=self.remembered.append, create=create, ciphertexts=ciphertexts)

    def backend(self, salt: str | None = None) -> None:
        """The stack exists in the backend; its secrets provider has this salt."""
        write_stack_state(Path(self.spec.backend_url[len("file://"):]), "tiny", self.spec.stack, salt)

    def calls(self) -> list[list[str]]:
        return [json.loads(line) for line in (self.stub.root / "calls.jsonl").read_text().splitlines()]

    def encryptions(self) -> int:
        return sum(call[:3] == ["config", "set", "--secret"] for call in self.calls())

    def on_argv(self, value: str) -> bool:
        return any(value in arg for call in self.calls() for arg in call)

    def verbs(self) -> list[str]:
        return [" ".join(call[:2]) for call in self.calls()]

    def stack_file(self) -> dict:
        path = self.project / "Pulumi.dev.yaml"
        return yaml.safe_load(path.read_text()) if path.exists() else {}

    def commit_stack_file(self, data: dict) -> None:
        (self.project / "Pulumi.dev.yaml").write_text(yaml.safe_dump(data))


@pytest.fixture
def harness(tmp_path, tiny_spec) -> Harness:
    return Harness(tmp_path, tiny_spec)


def secure(value: str) -> dict:
    return {"secure": "v1:" + base64.b64encode(value.encode()).decode()}


def test_a_new_stack_is_created_and_its_backend_folder_made(harness, tiny_spec):
    harness.session().prepare()
    assert harness.verbs()[:3] == ["stack select", "stack init", "stack export"]
    assert Path(tiny_spec.backend_url[len("file://"):]).is_dir()


def test_a_stack_opened_to_preview_is_never_created(harness):
    with pytest.raises(auto.StackNotFoundError):
        harness.session(create=False).prepare()
    assert "stack init" not in harness.verbs()


def test_a_stack_opened_to_preview_is_not_selected_each_command_names_it(harness):
    harness.backend(salt=STATE_SALT)
    harness.session(create=False).prepare()
    assert harness.verbs() == ["stack export"], "one CLI call: the state's salt"


def test_a_fresh_checkout_gets_the_salt_seen_last_without_asking_the_backend(harness):
    harness.backend(salt=STATE_SALT)
    harness.session(remembered="v1:remembered").prepare()
    assert harness.stack_file()["encryptionsalt"] == "v1:remembered"
    assert "stack export" not in harness.verbs()


def test_without_a_remembered_salt_the_states_salt_is_used(harness):
    harness.backend(salt=STATE_SALT)
    harness.session().prepare()
    assert harness.stack_file()["encryptionsalt"] == STATE_SALT


def test_committed_secrets_need_the_states_salt_even_when_another_is_remembered(harness):
    harness.backend(salt=STATE_SALT)
    harness.commit_stack_file({"config": {"tiny:token": secure("committed-token-9")}})
    harness.session(remembered="v1:remembered").prepare()
    assert harness.stack_file()["encryptionsalt"] == STATE_SALT


def test_a_committed_salt_is_kept(harness):
    harness.backend(salt=STATE_SALT)
    harness.commit_stack_file({"encryptionsalt": "v1:committed", "config": {"tiny:greeting": "hi"}})
    harness.session(remembered="v1:remembered").prepare()
    assert harness.stack_file()["encryptionsalt"] == "v1:committed"
    assert "stack export" not in harness.verbs()


def test_another_secrets_provider_gets_no_passphrase_salt(harness):
    harness.backend(salt=STATE_SALT)
    harness.commit_stack_file({"secretsprovider": "awskms://alias/x"})
    harness.session(remembered="v1:remembered").prepare()
    assert "encryptionsalt" not in harness.stack_file()


def test_plain_overrides_are_written_over_committed_values(harness):
    harness.backend()
    harness.commit_stack_file({"encryptionsalt": "v1:s", "config": {"tiny:greeting": "hello", "tiny:keep": [1, 2]}})
    session = harness.session(config=(ConfigOverride("tiny:greeting", "hi from the config"),
                                      ConfigOverride("tiny:map", {"a": {"b": 1}})))
    session.prepare()
    assert harness.stack_file()["config"] == {
        "tiny:greeting": "hi from the config", "tiny:keep": [1, 2], "tiny:map": {"a": {"b": 1}},
    }
    assert harness.encryptions() == 0


def test_secret_overrides_are_encrypted_once_per_salt_and_value(harness):
    harness.backend()
    harness.commit_stack_file({"encryptionsalt": "v1:s"})
    session = harness.session(config=(ConfigOverride("tiny:token", "first-token", secret=True),))
    session.prepare()
    assert harness.stack_file()["config"]["tiny:token"] == secure("first-token")
    assert harness.encryptions() == 1
    # A fresh checkout (the file as committed) with the same value: the ciphertext is written back, no CLI call.
    harness.commit_stack_file({"encryptionsalt": "v1:s"})
    session.prepare()
    assert harness.stack_file()["config"]["tiny:token"] == secure("first-token")
    assert harness.encryptions() == 1
    # A rotated value is encrypted again.
    harness.commit_stack_file({"encryptionsalt": "v1:s"})
    session.spec = dataclasses.replace(session.spec, config=(ConfigOverride("tiny:token", "second-token", secret=True),))
    session.prepare()
    assert harness.stack_file()["config"]["tiny:token"] == secure("second-token")
    assert harness.encryptions() == 2
    assert not harness.on_argv("first-token") and not harness.on_argv("second-token")


def test_rotating_one_of_two_secret_overrides_encrypts_it_and_keeps_the_other(harness):
    harness.backend()
    harness.commit_stack_file({"encryptionsalt": "v1:s"})
    keep, rotate = ConfigOverride("tiny:a", "kept-value", secret=True), ConfigOverride("tiny:b", "old-value", secret=True)
    session = harness.session(config=(keep, rotate))
    session.prepare()
    harness.commit_stack_file({"encryptionsalt": "v1:s"})
    session.spec = dataclasses.replace(session.spec, config=(keep, ConfigOverride("tiny:b", "new-value", secret=True)))
    session.prepare()
    config = harness.stack_file()["config"]
    assert config == {"tiny:a": secure("kept-value"), "tiny:b": secure("new-value")}
    assert harness.encryptions() == 3, "both at first, then only the rotated one"
    assert not any(harness.on_argv(value) for value in ("kept-value", "old-value", "new-value"))


def test_ciphertexts_kept_in_a_file_serve_the_next_process_with_the_same_passphrase(harness, tmp_path):
    harness.backend()
    kept = tmp_path / "previews" / "ciphertexts.json"
    token = (ConfigOverride("tiny:token", "file-kept-token-4e", secret=True),)
    harness.commit_stack_file({"encryptionsalt": "v1:s"})
    harness.session(ciphertexts=Ciphertexts(kept, "the-passphrase"), config=token).prepare()
    assert harness.encryptions() == 1
    # Another process (a new session and a new cache object), a fresh checkout: no CLI call.
    harness.commit_stack_file({"encryptionsalt": "v1:s"})
    harness.session(ciphertexts=Ciphertexts(kept, "the-passphrase"), config=token).prepare()
    assert harness.encryptions() == 1
    assert harness.stack_file()["config"]["tiny:token"] == secure("file-kept-token-4e")
    assert "file-kept-token-4e" not in kept.read_text() and kept.stat().st_mode & 0o077 == 0
    # Another passphrase (rotated) finds nothing it can trust there.
    harness.commit_stack_file({"encryptionsalt": "v1:s"})
    harness.session(ciphertexts=Ciphertexts(kept, "a-new-passphrase"), config=token).prepare()
    assert harness.encryptions() == 2


def test_a_cut_short_ciphertext_file_means_encrypting_again(harness, tmp_path):
    harness.backend()
    kept = tmp_path / "ciphertexts.json"
    kept.write_text('{"abc": "v1:trunc')
    harness.commit_stack_file({"encryptionsalt": "v1:s"})
    harness.session(ciphertexts=Ciphertexts(kept, "the-passphrase"),
                    config=(ConfigOverride("tiny:token", "t", secret=True),)).prepare()
    assert harness.encryptions() == 1 and harness.stack_file()["config"]["tiny:token"] == secure("t")


class LaunchedCommand(SupervisedCommand):
    """Every CLI call goes through a script that notes it, as a preview's goes through its namespace launcher."""

    def __init__(self, root: str, launcher: Path) -> None:
        super().__init__(root, deadline_s=60)
        self._launcher = launcher

    def launcher(self) -> list[str]:
        return [str(self._launcher)]


def test_a_secret_override_is_encrypted_behind_the_commands_launcher(harness, tmp_path):
    harness.backend()
    launched = tmp_path / "launched.txt"
    launcher = tmp_path / "launcher"
    launcher.write_text(f'#!/bin/sh\necho "$*" >> "{launched}"\nexec "$@"\n')
    launcher.chmod(0o755)
    harness.commit_stack_file({"encryptionsalt": "v1:s"})
    session = harness.session(command=LaunchedCommand(str(harness.stub.root), launcher),
                              config=(ConfigOverride("tiny:token", "behind-launcher", secret=True),))
    session.prepare()
    assert harness.encryptions() == 1
    assert "config set --secret --stack dev tiny:token" in launched.read_text()


def test_the_salt_the_cli_writes_into_a_new_stack_file_is_remembered_once(harness):
    harness.backend()
    session = harness.session(config=(ConfigOverride("tiny:token", "a-token", secret=True),))
    session.prepare()
    assert harness.stack_file()["encryptionsalt"] == NEW_SALT
    session.after_run()
    assert harness.remembered == [NEW_SALT]


def test_committed_secrets_are_learned_for_redaction_once_per_file(harness):
    harness.backend(salt=STATE_SALT)
    committed = {"tiny:token": secure("committed-token-9"), "tiny:plain": "x"}
    harness.commit_stack_file({"encryptionsalt": STATE_SALT, "config": committed})
    session = harness.session()
    session.prepare()
    assert "committed-token-9" not in harness.redactor.redact("the token is committed-token-9")
    def reads() -> int:
        return sum(call[:1] == ["config"] and "--json" in call for call in harness.calls())

    assert reads() == 1
    session.prepare()
    assert reads() == 1  # the same stack file: nothing new to learn
    harness.commit_stack_file({"encryptionsalt": STATE_SALT, "config": {"tiny:token": secure("rotated-token-7")}})
    session.prepare()
    assert reads() == 2
    assert "rotated-token-7" not in harness.redactor.redact("now rotated-token-7")


def test_the_backend_is_asked_whether_it_is_reachable(harness):
    harness.backend()
    session = harness.session()
    assert session.backend_reachable()
    (harness.stub.root / "backend-down").write_text("")
    assert not session.backend_reachable()
