"""The `coordination:` section: what it turns into, its defaults, and each bad value refused with the key named."""

from __future__ import annotations

import socket

import pytest

from reconciler.settings import ConfigError, load_config
from testsupport.reconciler_testing import tiny_stack, write_config


@pytest.fixture
def config_with(remote, tmp_path):
    def make(coordination):
        return write_config(tmp_path / "reconciler.yaml", [tiny_stack(remote, tmp_path / "backend", secrets_passphrase=None)],
                            coordination=coordination)
    return make


def test_without_the_section_the_service_runs_alone(remote, tmp_path):
    path = write_config(tmp_path / "reconciler.yaml", [tiny_stack(remote, tmp_path / "backend", secrets_passphrase=None)])
    assert load_config(path).coordination is None


def test_the_section_is_read_with_paths_relative_to_the_file_and_durations_in_seconds(config_with, tmp_path):
    settings = load_config(config_with({"kubeconfig": "kube/config", "namespace": "gitops", "lease_duration": "1m",
                                        "renew_every": "10s", "replica_id": "replica-2"})).coordination
    assert settings is not None
    assert (settings.kubeconfig, settings.namespace, settings.lease_duration, settings.renew_every, settings.replica_id) == (
        tmp_path / "kube" / "config", "gitops", 60.0, 10.0, "replica-2")


def test_a_kill_grace_that_fits_in_the_lease_is_taken(config_with):
    settings = load_config(config_with({"lease_duration": "10s", "renew_every": "2s", "kill_grace": "5s"})).coordination
    assert settings is not None and settings.kill_grace == 5.0


def test_an_empty_section_means_in_cluster_the_default_namespace_and_the_host_name(config_with):
    settings = load_config(config_with({})).coordination
    assert settings is not None and settings.kubeconfig is None and settings.namespace == "default"
    assert settings.lease_duration > settings.renew_every * 2  # two renewals may fail before a lease runs out
    assert settings.replica_id.startswith(socket.gethostname().lower()[:20].strip("-_."))


@pytest.mark.parametrize("coordination, expected", [
    ({"renew_every": "20s", "lease_duration": "30s"}, "coordination.renew_every: must be at most a third of coordination.lease_duration"),
    ({"replica_id": "Replica_1"}, "coordination.replica_id: must be a DNS label"),
    # The CLI must be dead before another replica can see the Lease lapse, and two renewals may fail before that.
    ({"lease_duration": "10s", "renew_every": "2s", "kill_grace": "6.5s"},
     "coordination.kill_grace: must be at most coordination.lease_duration - 2 x renew_every - 1s (5s), got 6.5s"),
    ({"namespace": "-x"}, "coordination.namespace: must be a DNS label"),
    ({"lease_duration": "0s"}, "coordination.lease_duration: must be longer than 0s"),
    ({"leader": True}, "unknown key 'leader'"),
])
def test_a_bad_value_is_refused_naming_the_key(config_with, coordination, expected):
    path = config_with(coordination)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(path) in str(raised.value) and expected in str(raised.value), str(raised.value)
