"""The node's folder for the reconciler's pods: root's, with the pods' user (65532) let in by ACLs and nobody
else, the machine's backend and passphrase linked to it (never an existing one of the machine's taken over), the
BuildKit socket linked at a fixed path, and a buildx builder whose endpoint is the socket's path in the pod."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from localenv import buildkit, docker_engine, posix_acl, reconciler_node
from localenv.settings import load
from testsupport.reconciler_testing import tools_environment

POD = reconciler_node.POD_UID
SOMEONE_ELSE = POD + 1
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="acting as other users needs root")


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("GITOPS_STATE_DIR", str(tmp_path / "state"))
    node = tmp_path / "node"
    monkeypatch.setattr(reconciler_node, "NODE_DIR", node)
    monkeypatch.setattr(reconciler_node, "STATE_VOLUME", node / "reconciler")
    monkeypatch.setattr(reconciler_node, "BUILDKIT_SOCKET_LINK", node / "buildkitd.sock")
    monkeypatch.setattr(reconciler_node, "IMAGE_INPUTS", node / "reconciler-image")
    settings = load()
    settings.state_dir.mkdir()
    return settings


def test_the_machines_backend_and_passphrase_are_the_nodes(settings):
    outcome = reconciler_node.ensure(settings)

    volume = reconciler_node.STATE_VOLUME
    assert "pulumi-backend shared" in outcome and "pulumi-passphrase shared" in outcome
    assert (settings.state_dir / "pulumi-backend").resolve() == volume / "pulumi-backend"
    assert (settings.state_dir / "pulumi-passphrase").read_text() == (volume / "pulumi-passphrase").read_text()
    assert len((volume / "pulumi-passphrase").read_text()) == 44
    # The machine writes through its link; the pods read it in the node's folder.
    (settings.state_dir / "pulumi-backend" / "stack.json").write_text("{}")
    assert (volume / "pulumi-backend" / "stack.json").read_text() == "{}"


def test_a_backend_the_machine_already_has_is_left_alone_and_named(settings):
    own = settings.state_dir / "pulumi-backend"
    own.mkdir()
    (own / "stack.json").write_text("mine")

    outcome = reconciler_node.ensure(settings)

    assert f"pulumi-backend NOT shared ({own} is the machine's own: move it to" in outcome
    assert not own.is_symlink() and (own / "stack.json").read_text() == "mine"


def test_a_second_up_keeps_the_passphrase(settings):
    reconciler_node.ensure(settings)
    first = (reconciler_node.STATE_VOLUME / "pulumi-passphrase").read_text()

    reconciler_node.ensure(settings)

    assert (reconciler_node.STATE_VOLUME / "pulumi-passphrase").read_text() == first


def as_user(uid: int, argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """ARGV as UID, started from CWD as root: like the pods' mount, it skips the node's private parent folders."""
    return subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *argv],
                          cwd=cwd, capture_output=True, text=True, timeout=60)


def written_as_the_machines_engine(path: Path, text: str) -> None:
    """As Go's file blobs write the backend (folders 0777, files 0666 asked) under the reconciler's umask 077."""
    old = os.umask(0o077)
    try:
        os.makedirs(path.parent, 0o777, exist_ok=True)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666), "w") as handle:
            handle.write(text)
    finally:
        os.umask(old)


@as_root
def test_the_folder_is_roots_with_the_pods_user_let_in_and_nobody_else(settings):
    reconciler_node.ensure(settings)

    volume = reconciler_node.STATE_VOLUME
    assert reconciler_node.NODE_DIR.stat().st_mode & 0o777 == 0o700
    for path in (volume, volume / "pulumi-passphrase", volume / "pulumi-backend", volume / "replicas"):
        info = path.stat()
        assert (info.st_uid, info.st_gid, info.st_mode & 0o707) == (0, 0, 0o700 if path.is_dir() else 0o600), path
        assert posix_acl.user_permissions(path) == {POD: 0o7 if path.is_dir() else 0o6}, path
    assert as_user(POD, ["cat", "pulumi-passphrase"], volume).stdout == (volume / "pulumi-passphrase").read_text()
    assert as_user(SOMEONE_ELSE, ["cat", "pulumi-passphrase"], volume).returncode != 0


@as_root
def test_the_pods_user_and_the_machines_engine_share_what_each_writes(settings):
    reconciler_node.ensure(settings)
    volume = reconciler_node.STATE_VOLUME
    written_as_the_machines_engine(volume / "pulumi-backend" / ".pulumi" / "stacks" / "tiny" / "dev.json", "{}")

    assert as_user(POD, ["cat", "pulumi-backend/.pulumi/stacks/tiny/dev.json"], volume).stdout == "{}"
    pod_wrote = as_user(POD, ["sh", "-c", "umask 022 && mkdir -p pulumi-backend/.pulumi/locks && echo 1 > pulumi-backend/.pulumi/locks/a.json"], volume)
    assert pod_wrote.returncode == 0, pod_wrote.stderr
    assert (volume / "pulumi-backend" / ".pulumi" / "locks" / "a.json").read_text() == "1\n"
    assert as_user(POD, ["rm", "pulumi-backend/.pulumi/stacks/tiny/dev.json"], volume).returncode == 0
    # Nobody else reads either's files, whatever the umask said.
    written_as_the_machines_engine(volume / "pulumi-backend" / ".pulumi" / "stacks" / "tiny" / "dev.json", "{}")
    for relative in ("pulumi-backend/.pulumi/stacks/tiny/dev.json", "pulumi-backend/.pulumi/locks/a.json"):
        assert as_user(SOMEONE_ELSE, ["cat", relative], volume).returncode != 0
        assert (volume / relative).stat().st_mode & 0o077 in (0o060, 0o070)  # the mask; no group entry, no others
        assert [perm for tag, perm, _ in posix_acl.entries(volume / relative) if tag == posix_acl.GROUP_OBJ] == [0]


@as_root
def test_what_was_written_before_or_owner_only_is_let_in_by_the_next_up(settings):
    volume = reconciler_node.STATE_VOLUME
    volume.mkdir(parents=True)
    old = volume / "pulumi-backend" / ".pulumi" / "history" / "old.json"
    old.parent.mkdir(parents=True, mode=0o700)
    old.write_text("[]")
    old.chmod(0o600)
    replica = volume / "replicas" / "reconciler-0" / "status.sqlite"
    replica.parent.mkdir(parents=True)
    replica.write_text("")

    reconciler_node.ensure(settings)

    assert as_user(POD, ["cat", "pulumi-backend/.pulumi/history/old.json"], volume).stdout == "[]"
    # The replicas' own folders are theirs: not walked, nothing passed on (their checkouts are build contexts).
    assert posix_acl.user_permissions(replica.parent) == {}
    assert posix_acl.user_permissions(volume / "replicas") == {POD: 0o7}
    assert posix_acl.entries(volume / "replicas", posix_acl.DEFAULT) == []


@as_root
def test_the_real_pulumi_writes_its_backend_for_the_pods_user_too(settings, tmp_path):
    env = tools_environment()
    if shutil.which("pulumi", path=env["PATH"]) is None:
        pytest.fail("the pulumi CLI is not built: run `make tools`")
    reconciler_node.ensure(settings)
    volume = reconciler_node.STATE_VOLUME
    project = tmp_path / "tiny"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: tiny\nruntime: python\n")
    env.update(PULUMI_BACKEND_URL=f"file://{volume / 'pulumi-backend'}", PULUMI_CONFIG_PASSPHRASE="x")
    old = os.umask(0o077)
    try:
        init = subprocess.run(["pulumi", "stack", "init", "dev", "--non-interactive"], cwd=project, env=env,
                              capture_output=True, text=True, timeout=120)
    finally:
        os.umask(old)
    assert init.returncode == 0, init.stderr

    written = [path for path in (volume / "pulumi-backend").rglob("*") if path.is_file()]
    assert any(path.name == "dev.json" for path in written), written
    for path in written:
        relative = str(path.relative_to(volume))
        assert as_user(POD, ["cat", relative], volume).returncode == 0, relative
        assert as_user(SOMEONE_ELSE, ["cat", relative], volume).returncode != 0, relative


def test_the_pods_find_buildkit_at_fixed_paths(settings):
    reconciler_node.ensure(settings)

    instance = json.loads((reconciler_node.STATE_VOLUME / "buildx" / "instances" / buildkit.BUILDER_NAME).read_text())
    assert instance["Driver"] == "remote"
    assert instance["Nodes"][0]["Endpoint"] == "unix:///run/buildkit/buildkitd.sock"
    assert os.readlink(reconciler_node.BUILDKIT_SOCKET_LINK) == str(buildkit.socket_path(settings))


def test_the_pods_get_the_docker_host_the_machines_runs_see(settings):
    reconciler_node.ensure(settings)

    environment = json.loads((reconciler_node.STATE_VOLUME / "machine-environment.json").read_text())
    assert environment == {"DOCKER_HOST": docker_engine.current_host(settings)}
    assert environment["DOCKER_HOST"].startswith("unix://")


def test_a_second_state_directory_keeps_a_backend_of_its_own(settings, tmp_path, monkeypatch):
    """A second clone starts its own cluster: the first one's backend would describe objects it does not have."""
    reconciler_node.ensure(settings)
    monkeypatch.setenv("GITOPS_STATE_DIR", str(tmp_path / "second-state"))
    second = load()
    second.state_dir.mkdir()

    outcome = reconciler_node.ensure(second)

    assert f"pulumi-backend NOT shared (the node's belongs to the state directory {settings.state_dir}" in outcome
    assert not (second.state_dir / "pulumi-backend").exists()
    assert (settings.state_dir / "pulumi-backend").resolve() == reconciler_node.STATE_VOLUME / "pulumi-backend"
