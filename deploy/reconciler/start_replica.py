"""Starts one replica of the reconciler in its pod, with the config written for it; or probes it.

    python start_replica.py                 write this replica's config, then exec `python -m reconciler run`
    python start_replica.py --probe PATH    GET PATH (/readyz, /healthz) of the replica in this pod

It also takes the machine's environment the program reads (DOCKER_HOST), and writes the pod's
kubeconfig (RUN_DIR/kubeconfig) from the ConfigMap's, with the CA files it names embedded as
`certificate-authority-data`, as the machine's own kubeconfig has it: the Kubernetes provider replaces
every object when the active cluster's entry changes between two runs, and the machine's runs and the
pods' must see one cluster (only the user differs: the pod's ServiceAccount token).

The replicas of the Deployment share one ConfigMap, yet each needs its own: identity in the Leases
(`coordination.replica_id`, the pod's name: with `hostNetwork` every pod has the node's host name),
state directory (`state_dir`/<pod name>) and Pulumi home, and port. On the local node the pods share
the node's network, so the first free port from `listen`'s upward is taken, and the probes (exec,
this file) read it from the run folder. A Deployment without hostNetwork (EKS) gets a port of its own
per pod and takes `listen`'s port itself.

The pods share the node's host name but not its pids (no hostPID): USER is set to the pod's name, which
Pulumi (Go's os/user without cgo) writes as the user of its lock files when the uid has no account in
/etc/passwd, so each replica's locks name it, and a replica judges by pid only its own
(reconciler/engine/stack_locks.py). A uid with an account would give every replica that one name: refused.
"""

from __future__ import annotations

import argparse
import base64
import errno
import json
import os
import pwd
import socket
import sys
import urllib.request
from pathlib import Path

import yaml

CONFIG = Path("/etc/reconciler/reconciler.yaml")
KUBECONFIG = Path("/etc/reconciler/kubeconfig")
# The machine's environment variables the program reads (localenv/reconciler_node.py writes them).
MACHINE_ENVIRONMENT = Path("/var/lib/reconciler/machine-environment.json")
# A folder of the pod's own (an emptyDir): the written config and the port taken.
RUN_DIR = Path(os.environ.get("RECONCILER_RUN_DIR", "/tmp/reconciler"))
# Ports tried from listen's upward: more than the replicas a node runs.
PORTS_TRIED = 10


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def first_free_port(host: str, first: int) -> int:
    for port in range(first, first + PORTS_TRIED):
        if port_is_free(host, port):
            return port
    raise SystemExit(f"start_replica: ports {first}-{first + PORTS_TRIED - 1} on {host} are all taken; "
                     "run fewer replicas on this node")


def replica_config(config: dict, replica: str, port: int) -> dict:
    """CONFIG (the ConfigMap's, absolute paths only) as this replica's."""
    host = config["listen"].rpartition(":")[0]
    written = dict(config, listen=f"{host}:{port}", state_dir=f"{config['state_dir']}/{replica}")
    if "coordination" in config:
        written["coordination"] = dict(config["coordination"], replica_id=replica)
    return written


def embedded_certificate_authorities(kubeconfig: dict) -> dict:
    """KUBECONFIG with each cluster's `certificate-authority` file read into `certificate-authority-data`."""
    clusters = []
    for entry in kubeconfig.get("clusters") or []:
        cluster = dict(entry["cluster"])
        path = cluster.pop("certificate-authority", None)
        if path:
            cluster["certificate-authority-data"] = base64.b64encode(Path(path).read_bytes()).decode()
        clusters.append({**entry, "cluster": cluster})
    return {**kubeconfig, "clusters": clusters}


def lock_user(replica: str) -> dict[str, str]:
    """The environment that makes this replica's Pulumi locks name it."""
    try:
        account = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return {"USER": replica}
    raise SystemExit(f"start_replica: uid {os.getuid()} has the account {account!r} in /etc/passwd, which Pulumi would "
                     "write in every replica's locks instead of the pod's name; run the pod as a uid without one "
                     "(the image's 65532)")


def start(replica: str) -> None:
    config = yaml.safe_load(CONFIG.read_text())
    host, _, first = config["listen"].rpartition(":")
    port = first_free_port(host, int(first)) if os.environ.get("RECONCILER_SHARED_NETWORK") == "true" else int(first)
    written = replica_config(config, replica, port)
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    kubeconfig = embedded_certificate_authorities(yaml.safe_load(KUBECONFIG.read_text()))
    (RUN_DIR / "kubeconfig").write_text(yaml.safe_dump(kubeconfig, sort_keys=False))
    (RUN_DIR / "reconciler.yaml").write_text(yaml.safe_dump(written, sort_keys=False))
    (RUN_DIR / "listen").write_text(written["listen"])
    if MACHINE_ENVIRONMENT.is_file():
        os.environ.update(json.loads(MACHINE_ENVIRONMENT.read_text()))
    os.environ.update(lock_user(replica))
    # Each replica its own Pulumi home: the CLI keeps per-project workspace files there.
    os.environ["PULUMI_HOME"] = f"{written['state_dir']}/pulumi-home"
    print(f"start_replica: {replica} listens on {written['listen']}, state in {written['state_dir']}", flush=True)
    os.execv(sys.executable, [sys.executable, "-m", "reconciler", "run", "--config", str(RUN_DIR / "reconciler.yaml")])


def probe(path: str) -> int:
    try:
        listen = (RUN_DIR / "listen").read_text()
    except FileNotFoundError:
        print(f"{path}: the replica has not started yet", file=sys.stderr)
        return 1
    try:
        with urllib.request.urlopen(f"http://{listen}{path}", timeout=3):
            return 0
    except OSError as error:  # refused, timed out, or an HTTP error status
        print(f"{path}: {error}", file=sys.stderr)
        return 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probe", metavar="PATH")
    args = parser.parse_args()
    if args.probe:
        return probe(args.probe)
    start(os.environ["POD_NAME"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
