"""A hostile pull request against the real engine: its program shows every secret it can find, and none is there to find.

The program prints, warns (pulumi.log.warn) and raises with every environment
variable it sees, each also base64-encoded and reversed (forms a redactor may
miss), plus the environments of every process /proc shows and the files the
service reads its secrets from; it also tries to write into the production
virtualenv. It is previewed by `reconciler preview --post` and by the service's
preview pool; the comment, the output, the log, /status and the SQLite store
must hold none of the service's secrets nor another stack's.
"""

from __future__ import annotations

import base64
import json
import logging
import textwrap
import time
from pathlib import Path

import pytest

from reconciler.preview.sandbox import namespaces_available
from testsupport.fake_github import serve_fake_github
from testsupport.reconciler_testing import PROJECT_DIR, TINY_PROJECT, git, run_cli, tiny_stack, write_config

pytestmark = pytest.mark.e2e
OWNER, REPO, NUMBER = "example", "web", 5
WEBHOOK_SECRET = "hook-secret-0d6a1c"
AWS_SECRET = "aws-secret-of-the-service-9b3e"
OTHER_PASSPHRASE = "other-stacks-passphrase-51f7"
TINY_PASSPHRASE = "tiny-passphrase-2c8d"
WRITTEN_INTO_VENV = Path(PROJECT_DIR / ".venv").resolve() / "written-by-a-pull-request.txt"

HOSTILE = textwrap.dedent("""\
    import base64, json, os, sys
    from pathlib import Path
    import pulumi

    # Another process's environment (the service's, when /proc shows it) first: a failed preview's comment keeps the end.
    seen = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                seen["proc-" + pid] = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
            except OSError:
                pass
    for path in Path("targets.txt").read_text().split():
        try:
            seen["file " + path] = Path(path).read_text(errors="replace")
        except OSError as error:
            seen["file " + path] = f"unreadable: {error.strerror}"
    seen.update(os.environ)
    try:
        Path(sys.prefix, "written-by-a-pull-request.txt").write_text("persisted")
        venv = "venv write: succeeded"
    except OSError as error:
        venv = f"venv write: {error.strerror}"
    lines = [f"{key}={value} b64={base64.b64encode(value.encode()).decode()} rev={value[::-1]}"
             for key, value in seen.items()] + [venv]
    text = "\\n".join(lines)
    print(text)
    pulumi.log.warn(text)
    raise ValueError(text + "\\nhostile program")
    """)


def forms(secret: str) -> list[str]:
    return [secret, base64.b64encode(secret.encode()).decode(), secret[::-1]]


@pytest.fixture
def hostile(tmp_path, remote, engine_env, monkeypatch):
    with serve_fake_github() as github:
        other_passphrase = tmp_path / "secrets" / "other-passphrase"
        other_passphrase.parent.mkdir()
        other_passphrase.write_text(OTHER_PASSPHRASE)
        config = write_config(
            tmp_path / "reconciler.yaml",
            [tiny_stack(remote, tmp_path / "backend"),
             tiny_stack(remote, tmp_path / "other-backend", name="other", stack="other",
                        secrets_passphrase={"file": str(other_passphrase)})],
            github={"api_url": github.url}, webhook={"secret": {"env": "LEAK_WEBHOOK_SECRET"}}, log_format="json",
        )
        env = {**engine_env, "TINY_PASSPHRASE": TINY_PASSPHRASE, "GITHUB_TOKEN": github.token,
               "LEAK_WEBHOOK_SECRET": WEBHOOK_SECRET, "AWS_SECRET_ACCESS_KEY": AWS_SECRET}
        remote.commit("first", TINY_PROJECT)
        deployed = run_cli("once", "--config", str(config), "--stack", "tiny", env=env, timeout=300)
        assert deployed.returncode == 0, deployed.stderr[-3000:]
        targets = [str(other_passphrase), str(config), str(tmp_path / "reconciler-state" / "status.sqlite")]
        remote.commit("a hostile program", {"__main__.py": HOSTILE, "targets.txt": "\n".join(targets)}, push=False)
        git("push", "--quiet", "--force", str(remote.bare), f"HEAD:refs/pull/{NUMBER}/head", cwd=remote.clone)
        github.add_pull(OWNER, REPO, NUMBER)
        secrets = {"GitHub token": github.token, "webhook secret": WEBHOOK_SECRET, "AWS key": AWS_SECRET,
                   "other stack's passphrase": OTHER_PASSPHRASE}
        yield config, env, github, secrets, remote
    WRITTEN_INTO_VENV.unlink(missing_ok=True)


def assert_nothing_leaks(where: str, text: str, secrets: dict[str, str]) -> None:
    for name, secret in secrets.items():
        for form in forms(secret):
            assert form not in text, f"the {name} reached {where}"


def test_the_preview_command_posts_what_the_program_saw_and_no_secret_is_in_it(hostile):
    config, env, github, secrets, _ = hostile

    result = run_cli("preview", "--config", str(config), "--stack", "tiny", "--ref", f"refs/pull/{NUMBER}/head",
                     "--post", "--pull-request", f"{OWNER}/{REPO}#{NUMBER}", "--format", "markdown", env=env, timeout=300)

    assert result.returncode == 1, result.stderr[-3000:]
    [comment] = github.comments_on(OWNER, REPO, NUMBER)
    assert "hostile program" in comment["body"] and "PULUMI_CONFIG_PASSPHRASE=" in comment["body"], \
        "what the program saw is in the comment"
    for where, text in (("the comment", comment["body"]), ("the command's output", result.stdout + result.stderr)):
        assert_nothing_leaks(where, text, secrets)
    assert not WRITTEN_INTO_VENV.exists(), "the production virtualenv is untouched"
    if namespaces_available():
        assert "venv write: Read-only file system" in comment["body"]


def test_the_services_preview_leaks_nothing_into_the_comment_the_log_the_status_or_the_store(hostile, monkeypatch, caplog):
    config_path, env, github, secrets, remote = hostile
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    from reconciler.process_setup import redactor_for
    from reconciler.service.pull_request_previews import PullRequestPreviews
    from reconciler.settings import load_config
    from reconciler.stack_set import StackSet
    from reconciler.status.report import service_status

    config = load_config(config_path)
    stacks = StackSet(config, redactor_for(config))
    previews = PullRequestPreviews(stacks, workers=1)
    head = git("rev-parse", "HEAD", cwd=remote.clone)
    payload = {
        "action": "synchronize", "number": NUMBER,
        "pull_request": {"number": NUMBER, "author_association": "MEMBER",
                         "head": {"sha": head, "repo": {"full_name": f"{OWNER}/{REPO}"}},
                         "base": {"sha": None, "ref": "main", "repo": {"full_name": f"{OWNER}/{REPO}"}}},
        "repository": {"full_name": f"{OWNER}/{REPO}", "clone_url": str(remote.bare)},
    }
    caplog.set_level(logging.DEBUG)
    try:
        # Both stacks track main: the other one, never deployed, gets a comment saying it has no state yet.
        assert previews.accept("pull_request", payload)["previewing"] == ["tiny", "other"]
        deadline = time.monotonic() + 300
        while len(github.comments_on(OWNER, REPO, NUMBER)) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        comment, other = github.comments_on(OWNER, REPO, NUMBER)
        status = json.dumps(service_status(config, stacks.store, stacks.redactor))
    finally:
        previews.close()
        stacks.store.close()

    assert "hostile program" in comment["body"] and "does not exist" in other["body"]
    store = b"".join(path.read_bytes() for path in config.state_dir.glob("status.sqlite*")).decode(errors="replace")
    for where, text in (("the comment", comment["body"] + other["body"]), ("the log", caplog.text), ("/status", status), ("SQLite", store)):
        assert_nothing_leaks(where, text, secrets)
    assert not WRITTEN_INTO_VENV.exists()
