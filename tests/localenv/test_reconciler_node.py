"""The node's folder for the reconciler's pods: root's alone, the machine's backend and passphrase linked
to it (never an existing one of the machine's taken over), the BuildKit socket linked at a fixed path, and
a buildx builder whose endpoint is the socket's path in the pod."""

import json
import os

import pytest

from localenv import buildkit, docker_engine, reconciler_node
from localenv.settings import load


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("GITOPS_STATE_DIR", str(tmp_path / "state"))
    node = tmp_path / "node"
    monkeypatch.setattr(reconciler_node, "NODE_DIR", node)
    monkeypatch.setattr(reconciler_node, "STATE_VOLUME", node / "reconciler")
    monkeypatch.setattr(reconciler_node, "BUILDKIT_SOCKET_LINK", node / "buildkitd.sock")
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


@pytest.mark.skipif(os.geteuid() != 0, reason="giving the folder to root needs root")
def test_the_folder_and_the_passphrase_are_roots_alone(settings):
    reconciler_node.ensure(settings)

    for path, mode in ((reconciler_node.NODE_DIR, 0o700), (reconciler_node.STATE_VOLUME, 0o700),
                       (reconciler_node.STATE_VOLUME / "pulumi-passphrase", 0o600)):
        info = path.stat()
        assert (info.st_uid, info.st_gid, info.st_mode & 0o777) == (0, 0, mode), path


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
