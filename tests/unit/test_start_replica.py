"""A replica in a pod writes its own config from the shared ConfigMap: its pod name as replica id, its own
state folder, and on the node's shared network the first port no other replica holds."""

import importlib.util
import socket
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("start_replica", PROJECT_DIR / "deploy" / "reconciler" / "start_replica.py")
start_replica = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(start_replica)

SHARED = {
    "state_dir": "/var/lib/reconciler/replicas",
    "listen": "10.244.100.1:8099",
    "coordination": {"kubeconfig": "/etc/reconciler/kubeconfig", "namespace": "gitops-system"},
    "stacks": [{"name": "local"}],
}


def test_each_replica_gets_its_own_identity_state_and_port():
    written = start_replica.replica_config(SHARED, "reconciler-7d9f-abcde", 8100)

    assert written["listen"] == "10.244.100.1:8100"
    assert written["state_dir"] == "/var/lib/reconciler/replicas/reconciler-7d9f-abcde"
    assert written["coordination"] == {**SHARED["coordination"], "replica_id": "reconciler-7d9f-abcde"}
    assert written["stacks"] == SHARED["stacks"]
    assert "replica_id" not in SHARED["coordination"]


def test_a_config_without_coordination_gets_none():
    shared = {key: value for key, value in SHARED.items() if key != "coordination"}

    assert "coordination" not in start_replica.replica_config(shared, "reconciler-1", 8099)


def test_the_first_port_another_replica_holds_is_skipped():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        chosen = start_replica.first_free_port("127.0.0.1", port)

    assert chosen != port and port < chosen < port + start_replica.PORTS_TRIED


def test_every_port_taken_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(start_replica, "port_is_free", lambda host, port: False)

    with pytest.raises(SystemExit, match=r"ports 8099-8108 on 10.244.100.1 are all taken; run fewer replicas"):
        start_replica.first_free_port("10.244.100.1", 8099)


def test_the_kubeconfig_gets_the_ca_embedded_as_the_machines_has_it(tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_bytes(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    kubeconfig = {
        "clusters": [{"name": "local", "cluster": {"server": "https://127.0.0.1:16443", "certificate-authority": str(ca)}}],
        "users": [{"name": "reconciler", "user": {"tokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token"}}],
    }

    written = start_replica.embedded_certificate_authorities(kubeconfig)

    assert written["clusters"] == [{"name": "local", "cluster": {
        "server": "https://127.0.0.1:16443",
        "certificate-authority-data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=",
    }}]
    assert written["users"] == kubeconfig["users"]
    assert kubeconfig["clusters"][0]["cluster"]["certificate-authority"] == str(ca)


def test_a_replicas_locks_name_its_pod_when_its_uid_has_no_account(monkeypatch):
    """Pulumi without cgo writes $USER as its locks' user when the uid has no account: the pod's name."""
    monkeypatch.setattr(start_replica.pwd, "getpwuid", lambda uid: (_ for _ in ()).throw(KeyError(uid)))

    assert start_replica.lock_user("reconciler-7d9f-abcde") == {"USER": "reconciler-7d9f-abcde"}


def test_a_uid_with_an_account_is_refused():
    # This process's uid has an account (root on the machine): every replica's locks would name it.
    with pytest.raises(SystemExit, match=r"uid \d+ has the account '\w+' in /etc/passwd, which Pulumi would write"):
        start_replica.lock_user("reconciler-7d9f-abcde")
