"""The preview sandbox around a stand-in `pulumi` that reports what it can see and do (no engine needed).

The stand-in plays a hostile pull request's program: it dumps its environment,
reads the config's secret files, lists /proc and tries to write into the
virtualenv, the backend and the state directory.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from reconciler.preview.sandbox import PreviewSandbox, namespaces_available, preview_user
from reconciler.preview.sandboxed_command import PreviewDeadlineExceeded
from reconciler.settings import load_config
from testsupport.reconciler_testing import GitRemote, tiny_stack, write_config

SERVICE_SECRETS = {
    "GITHUB_TOKEN": "ghs_service_token_5a9e",
    "GITOPS_WEBHOOK_SECRET": "webhook-secret-77c1",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-not-named-3f0d",
    "OTHER_PASSPHRASE": "other-stack-passphrase-c2b8",
}
TINY_PASSPHRASE = "tiny-own-passphrase-19de"
PREVIEW_KEY = "preview-read-only-key-4b61"
DEFAULT_UID = 65532  # the default preview user (previews.user), uid and gid
OTHER_OWNER = 4242

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
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    ids = {{name: status[name].split()[0] for name in ("Uid", "Gid", "CapEff")}}
    print(json.dumps({{"env": dict(os.environ), "argv": sys.argv[1:], "written": written, "read": readable,
                      "listed": listed, "pids": len(environs), "environs": environs, "ids": ids}}))
    """)


@pytest.fixture
def world(tmp_path: Path, monkeypatch, request):
    """A config with two stacks (secrets from env and from files), the service's secrets exported, a stand-in CLI.

    Parametrized indirectly with more of the `previews:` section.
    """
    for name, value in SERVICE_SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TINY_PASSPHRASE", TINY_PASSPHRASE)
    monkeypatch.setenv("PREVIEW_KEY", PREVIEW_KEY)
    secret_file = tmp_path / "secrets" / "other-passphrase"
    secret_file.parent.mkdir()
    secret_file.write_text(SERVICE_SECRETS["OTHER_PASSPHRASE"])
    override_file = tmp_path / "secrets" / "other-token"
    override_file.write_text("other-stack-override-token-6a0e")
    # A file the stack lets its previews read, owned by someone else than root (a CI runner's user, say) and 0600.
    preview_file = tmp_path / "kube" / "preview.yaml"
    preview_file.parent.mkdir()
    preview_file.write_text("a read-only kubeconfig")
    os.chown(preview_file, OTHER_OWNER, OTHER_OWNER)
    preview_file.chmod(0o600)
    remote = GitRemote(tmp_path / "repo")
    stacks = [
        tiny_stack(remote, tmp_path / "backend", preview_env={"AWS_ACCESS_KEY_ID": "AKIAREADONLY", "PREVIEW_KEY": {"env": "PREVIEW_KEY"}},
                   preview_files=[str(preview_file)]),
        tiny_stack(remote, tmp_path / "other-backend", name="other", stack="other",
                   secrets_passphrase={"file": str(secret_file)}, config={"other:token": {"secret_file": str(override_file)}}),
    ]
    config = load_config(write_config(tmp_path / "reconciler.yaml", stacks, webhook={"secret": {"env": "GITOPS_WEBHOOK_SECRET"}},
                                      previews={"timeout": "3s", **getattr(request, "param", {})}))
    cli_dir = tmp_path / "cli" / "bin"
    cli_dir.mkdir(parents=True)
    cli = cli_dir / "pulumi"
    cli.write_text(REPORTER.format(python=sys.executable))
    cli.chmod(0o755)
    run_dir = config.state_dir / "previews" / "tiny" / "run-test"
    (run_dir / "checkout").mkdir(parents=True)
    (run_dir / "checkout" / "Pulumi.yaml").write_text("name: tiny\nruntime: python\n")
    # A diy backend's layout: tiny's own stack, a third stack sharing its backend, history and locks.
    for backend, stacks in (("backend", ("dev", "shared")), ("other-backend", ("other",))):
        folder = tmp_path / backend / ".pulumi"
        (folder / "stacks" / "tiny").mkdir(parents=True)
        (folder / "meta.yaml").write_text("version: 1\n")
        for stack in stacks:
            (folder / "stacks" / "tiny" / f"{stack}.json").write_text(f"checkpoint of {stack}")
            (folder / "history" / "tiny" / stack).mkdir(parents=True)
            (folder / "history" / "tiny" / stack / "1.history.json").write_text(f"history of {stack}")
    (config.state_dir / "status.sqlite").write_text("the status store")
    base_command = SimpleNamespace(command=str(cli), version=None)
    sandbox = PreviewSandbox(config, config.stack("tiny"), run_dir, config.state_dir / "previews" / "tiny" / "cache.git",
                             base_command)
    return SimpleNamespace(config=config, sandbox=sandbox, run_dir=run_dir, secret_file=secret_file, override_file=override_file,
                           preview_file=preview_file, tmp=tmp_path)


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
    own = world.tmp / "backend" / ".pulumi"
    attempts = {
        "venv": venv / "written-by-a-preview.txt",
        "backend": world.tmp / "backend" / ".pulumi" / "written-by-a-preview.txt",
        "state": world.config.state_dir / "written-by-a-preview.txt",
        "run": world.run_dir / "checkout" / "written-by-a-preview.txt",
    }
    try:
        seen = run_reporter(world, write=[str(path) for path in attempts.values()],
                            read=[str(world.secret_file), str(world.override_file), str(world.config.state_dir / "status.sqlite"),
                                  *map(str, [own / "meta.yaml", own / "stacks" / "tiny" / "dev.json",
                                             own / "stacks" / "tiny" / "shared.json", own / "history" / "tiny" / "dev" / "1.history.json",
                                             world.tmp / "other-backend" / ".pulumi" / "stacks" / "tiny" / "other.json"])],
                            list=[str(world.config.state_dir), str(own / "stacks" / "tiny")])
    finally:
        for path in list(attempts.values())[:3]:
            path.unlink(missing_ok=True)

    assert seen["written"] == [str(attempts["run"])]
    assert world.secret_file.read_text() == SERVICE_SECRETS["OTHER_PASSPHRASE"], "hidden from the preview only"
    assert seen["read"].pop(str(own / "stacks" / "tiny" / "dev.json")) == "checkpoint of dev", "its own state is readable"
    assert seen["read"].pop(str(own / "meta.yaml")) == "version: 1\n"
    assert set(seen["read"]) <= {str(world.secret_file), str(world.override_file)} and not any(seen["read"].values()), \
        "secret files read empty (as root) or not at all (as the preview user); the status store, the history, " \
        "and other stacks' states (in its backend or another) are gone"
    assert seen["listed"] == {str(world.config.state_dir): ["previews"], str(own / "stacks" / "tiny"): ["dev.json"]}
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


@pytest.fixture
def open_folder():
    """A folder anyone may enter, outside everything the sandbox covers (pytest's are 0700): only file modes guard it."""
    folder = Path(tempfile.mkdtemp(prefix="preview-user-open-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def separate_user_available() -> bool:
    with_default_user = SimpleNamespace(previews=SimpleNamespace(user=(DEFAULT_UID, DEFAULT_UID)), state_dir=Path("/tmp"))
    return namespaces_available() and preview_user(with_default_user) is not None


def cli_process_ids(cli: str) -> dict[str, str]:
    """Uid, Gid and CapEff of the process running `cli` (the stand-in's interpreter with the script as its argument), from /proc."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        if len(argv) > 1 and argv[1] == cli.encode():
            fields = dict(line.split(":", 1) for line in status.splitlines())
            return {name: fields[name].split()[0] for name in ("Uid", "Gid", "CapEff")}
    return {}


@pytest.mark.skipif(not separate_user_available(), reason="needs root, namespaces and idmapped mounts")
def test_as_the_preview_user_the_cli_has_its_own_uid_and_none_of_roots_files(world, open_folder):
    root_only, public = open_folder / "root-only", open_folder / "public"
    root_only.write_text("root's alone")
    root_only.chmod(0o600)
    public.write_text("anyone's")
    public.chmod(0o644)
    home_file = Path(world.sandbox.env["HOME"]) / "written-by-the-preview"
    from_outside: dict[str, str] = {}
    watcher = threading.Thread(target=lambda: from_outside.update(poll_cli_ids(world.sandbox.command.command)))
    watcher.start()
    try:
        seen = run_reporter(world, sleep=1.5, write=[str(home_file)],
                            read=[str(root_only), str(public), "/etc/shadow", str(Path.home() / ".bashrc"),
                                  str(world.config.state_dir / "status.sqlite"), str(world.secret_file), str(world.preview_file)])
    finally:
        watcher.join()

    assert from_outside == {"Uid": str(DEFAULT_UID), "Gid": str(DEFAULT_UID), "CapEff": "0000000000000000"}, \
        "the service sees the CLI run as 65532:65532 without capabilities"
    assert seen["ids"] == from_outside
    assert seen["written"] == [str(home_file)], "its throwaway HOME is its own"
    assert home_file.stat().st_uid == 0, "what it writes lands on disk as root's, for the service to remove"
    assert seen["read"] == {str(public): "anyone's", str(world.preview_file): "a read-only kubeconfig"}, \
        "root's files, the status store and secret files are unreadable to it; a world-readable file and its preview_files are not"
    assert (seen["env"]["HOME"], seen["env"]["TMPDIR"]) == (world.sandbox.env["HOME"], world.sandbox.env["TMPDIR"])
    assert seen["env"]["USER"] == seen["env"]["LOGNAME"] != "root", "it can tell who it runs as (pulumi stack init asks)"


@pytest.mark.skipif(not namespaces_available(), reason="needs root and util-linux namespaces (unshare, setpriv)")
@pytest.mark.parametrize("world", [{"user": None}], indirect=True)
def test_with_no_preview_user_the_cli_keeps_uid_0_without_capabilities(world):
    from_outside: dict[str, str] = {}
    watcher = threading.Thread(target=lambda: from_outside.update(poll_cli_ids(world.sandbox.command.command)))
    watcher.start()
    try:
        seen = run_reporter(world, sleep=1.5)
    finally:
        watcher.join()

    assert from_outside == seen["ids"] == {"Uid": "0", "Gid": "0", "CapEff": "0000000000000000"}


# No user namespace can map to uid 2^32-1 (it means "no uid"): the jail cannot make the user's idmapped mounts.
UNMAPPABLE = 4294967295


@pytest.mark.skipif(not namespaces_available(), reason="needs root and util-linux namespaces (unshare, setpriv)")
@pytest.mark.parametrize("world", [{"user": f"{UNMAPPABLE}:{UNMAPPABLE}"}], indirect=True)
def test_where_the_user_cannot_be_made_the_cli_keeps_uid_0_and_the_log_says_so(world, caplog):
    seen = run_reporter(world)

    assert world.sandbox.user is None and seen["ids"]["Uid"] == "0" and seen["ids"]["CapEff"] == "0000000000000000"
    warned = [record.getMessage() for record in caplog.get_records("setup") if record.name == "reconciler.preview"]
    assert any(f"previews cannot run as uid {UNMAPPABLE} here" in message for message in warned), warned


def poll_cli_ids(cli: str, within_s: float = 10.0) -> dict[str, str]:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        found = cli_process_ids(cli)
        if found:
            return found
        time.sleep(0.05)
    return {}
