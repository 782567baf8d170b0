"""A simulated node: kwok plays its kubelet, so pods scheduled there turn
Running and Ready without containers, and Deployments reach Available.

kwok manages only nodes annotated kwok.x-k8s.io/node=fake, and moves them
and their pods through the default Stages its build saved (share/stages.yaml).
The node has no taint, so any workload schedules onto it.
"""

from . import binaries
from .certs import Pki
from .control_plane import component_kubeconfig
from .errors import LocalEnvError
from .kube_api import KubeApi
from .service import Service
from .settings import Settings

NAME = "kwok"
NODE_NAME = "kwok-node-0"
ANNOTATION = "kwok.x-k8s.io/node"
POD_CIDR = "10.244.0.1/24"


def service(settings: Settings) -> Service:
    def argv() -> list[str]:
        return [
            binaries.find("kwok", settings),
            f"--kubeconfig={component_kubeconfig(settings, 'kwok')}",
            f"--config={binaries.kwok_stages(settings)}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={ANNOTATION}=fake",
            "--node-ip=127.0.0.1",
            f"--cidr={POD_CIDR}",
            "--node-lease-duration-seconds=40",
        ]

    # kwok serves no health endpoint unless given a port; a running process
    # is enough here, and the node turning Ready proves it works.
    return Service(NAME, argv, lambda: True)


def node_manifest() -> dict:
    capacity = {"cpu": "32", "memory": "256Gi", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": NODE_NAME,
            "annotations": {ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": NODE_NAME,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
        },
        "status": {"allocatable": capacity, "capacity": capacity},
    }


def ensure_node(settings: Settings, pki: Pki) -> str:
    api = KubeApi(settings, pki)
    status, text = api.request("POST", "/api/v1/nodes", node_manifest())
    if status == 201:
        return "created"
    if status == 409:
        return "exists"
    raise LocalEnvError(f"creating node {NODE_NAME} failed (HTTP {status}): {text[:500]}")
