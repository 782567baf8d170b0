"""The preview sandbox around a stand-in `pulumi` that reports what it can see and do (no engine needed).

The stand-in plays a hostile pull request's program: it dumps its environment,
reads the config's secret files, lists /proc and tries to write into the
virtualenv, the backend and the state directory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from reconciler.preview.sandbox import PreviewSandbox, namespaces_available
from reconciler.preview.sandboxed_command import PreviewDeadlineExceeded
from reconciler.settings import load_config
from reconciler_testing import GitRemote, tiny_stack, write_config

SERVICE_SECRETS = {
    "GITHUB_TOKEN": "ghs_service_token_5a9e",
    "GITOPS_WEBHOOK_SECRET": "webhook-secret-77c1",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-not-named-3f0d",
    "OTHER_PASSPHRASE": "other-stack-passphrase-c2b8",
}
TINY_PASSPHRASE = "tiny-own-passphrase-19de"
PREVIEW_KEY = "preview-read-only-key-4b61"

REPORTER = textwrap.dedent("""\
    #!{python}
    import json, os, sys
    from pathlib import Path
    targets = json.loads(os.environ.get("SANDBOX_TARGETS", "{{}}"))
    written = []
    for path in targets.get("write", []):
        try:
            Path(path).write_text("written by a pull request")
            written.append(path)
        except OSError:
            pass
    readable = {{}}
    for path in targets.get("read", []):
        try:
            readable[path] = Path(path).read_text()
        except OSError:
            pass
    listed = {{}}
    for path in targets.get("list", []):
        try:
            listed[path] = sorted(os.listdir(path))
        except OSError:
            pass
    environs = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                environs.append(Path(f"/proc/{{pid}}/environ").read_bytes().decode(errors="replace"))
            except OSError:
                pass
    if targets.get("sleep"):
        import time
        time.sleep(targets["sleep"])
    print(json.dumps({{"env": dict(os.environ), "argv": sys.argv[1:], "written": written, "read": readable,
                      "listed": listed, "pids": len(environs), "environs": environs}}))
    """)


@pytest.fixture
def world(tmp_path: Path, monkeypatch):
    """A config with two stacks (secrets from env and from files), the service's secrets exported, a stand-in CLI."""
    for name, value in SERVICE_SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TINY_PASSPHRASE", TINY_PASSPHRASE)
    monkeypatch.setenv("PREVIEW_KEY", PREVIEW_KEY)
    secret_file = tmp_path / "secrets" / "other-passphrase"
    secret_file.parent.mkdir()
    secret_file.write_text(SERVICE_SECRETS["OTHER_PASSPHRASE"])
    override_file = tmp_path / "secrets" / "other-token"
    override_file.write_text("other-stack-override-token-6a0e")
    remote = GitRemote(tmp_path / "repo")
    stacks = [
        tiny_stack(remote, tmp_path / "backend", preview_env={"AWS_ACCESS_KEY_ID": "AKIAREADONLY", "PREVIEW_KEY": {"env": "PREVIEW_KEY"}}),
        tiny_stack(remote, tmp_path / "other-backend", name="other", stack="other",
                   secrets_passphrase={"file": str(secret_file)}, config={"other:token": {"secret_file": str(override_file)}}),
    ]
    config = load_config(write_config(tmp_path / "reconciler.yaml", stacks, webhook={"secret": {"env": "GITOPS_WEBHOOK_SECRET"}},
                                      previews={"timeout": "3s"}))
    cli_dir = tmp_path / "cli" / "bin"
    cli_dir.mkdir(parents=True)
    cli = cli_dir / "pulumi"
    cli.write_text(REPORTER.format(python=sys.executable))
    cli.chmod(0o755)
    run_dir = config.state_dir / "previews" / "tiny" / "run-test"
    (run_dir / "checkout").mkdir(parents=True)
    for backend in ("backend", "other-backend"):
        (tmp_path / backend / ".pulumi").mkdir(parents=True)
        (tmp_path / backend / ".pulumi" / "state.json").write_text("{}")
    (config.state_dir / "status.sqlite").write_text("the status store")
    base_command = SimpleNamespace(command=str(cli), version=None)
    sandbox = PreviewSandbox(config, config.stack("tiny"), run_dir, config.state_dir / "previews" / "tiny" / "cache.git",
                             base_command)
    return SimpleNamespace(config=config, sandbox=sandbox, run_dir=run_dir, secret_file=secret_file, override_file=override_file,
                           tmp=tmp_path)


def run_reporter(world, **targets) -> dict:
    env = {**world.sandbox.env, "SANDBOX_TARGETS": json.dumps(targets)}
    result = world.sandbox.command.run(["preview"], str(world.run_dir / "checkout"), env)
    return json.loads(result.stdout)


def test_the_cli_sees_only_what_the_stack_names_and_none_of_the_service_secrets(world):
    seen = run_reporter(world)

    env = seen["env"]
    assert env["PULUMI_CONFIG_PASSPHRASE"] == TINY_PASSPHRASE, "its own passphrase"
    assert env["AWS_ACCESS_KEY_ID"] == "AKIAREADONLY" and env["PREVIEW_KEY"] == PREVIEW_KEY, "its preview_env"
    assert env["HOME"].startswith(str(world.run_dir)) and env["PULUMI_HOME"].startswith(str(world.run_dir))
    assert env["TMPDIR"].startswith(str(world.run_dir))
    dump = json.dumps(seen)
    for name, value in SERVICE_SECRETS.items():
        assert value not in dump, f"{name} reached the preview"
    assert "GITHUB_TOKEN" not in env and "AWS_SECRET_ACCESS_KEY" not in env
    assert seen["argv"] == ["--non-interactive", "preview"]


@pytest.mark.skipif(not namespaces_available(), reason="needs root and util-linux namespaces (unshare, setpriv)")
def test_in_its_namespace_the_cli_can_write_only_its_run_folder_and_reads_no_secret_file(world):
    venv = Path(sys.prefix)
    attempts = {
        "venv": venv / "written-by-a-preview.txt",
        "backend": world.tmp / "backend" / ".pulumi" / "written-by-a-preview.txt",
        "state": world.config.state_dir / "written-by-a-preview.txt",
        "run": world.run_dir / "checkout" / "written-by-a-preview.txt",
    }
    try:
        seen = run_reporter(world, write=[str(path) for path in attempts.values()],
                            read=[str(world.secret_file), str(world.override_file), str(world.config.state_dir / "status.sqlite"),
                                  str(world.tmp / "backend" / ".pulumi" / "state.json"),
                                  str(world.tmp / "other-backend" / ".pulumi" / "state.json")],
                            list=[str(world.config.state_dir)])
    finally:
        for path in list(attempts.values())[:3]:
            path.unlink(missing_ok=True)

    assert seen["written"] == [str(attempts["run"])]
    assert world.secret_file.read_text() == SERVICE_SECRETS["OTHER_PASSPHRASE"], "hidden from the preview only"
    assert seen["read"] == {str(world.secret_file): "", str(world.override_file): "",
                            str(world.tmp / "backend" / ".pulumi" / "state.json"): "{}"}, \
        "its own backend is readable; secret files read empty; the status store and other backends are gone"
    assert seen["listed"] == {str(world.config.state_dir): ["previews"]}
    assert seen["pids"] <= 3 and not any(SERVICE_SECRETS["GITHUB_TOKEN"] in e for e in seen["environs"]), \
        "/proc holds only the preview's own processes"


def test_past_its_deadline_the_cli_and_its_children_are_stopped(world):
    started = time.monotonic()

    with pytest.raises(PreviewDeadlineExceeded, match="deadline of 3s"):
        run_reporter(world, sleep=120)

    assert time.monotonic() - started < 3 + 10 + 5
    leftover = subprocess.run(["pgrep", "-f", str(world.tmp / "cli")], capture_output=True, text=True).stdout.split()
    for pid in leftover:
        os.kill(int(pid), signal.SIGKILL)
    assert leftover == []
