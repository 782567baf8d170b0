"""The real node's pod network: Debian's CNI plugins on a bridge of our own.

Pods get addresses in POD_SUBNET on the bridge BRIDGE, whose own address
(the gateway) is the node's IP: the kubelet may not register a loopback
address, and the API server reaches the kubelet and the pods (pods/proxy,
probes) on it. Pods get no default route and the host does not forward
(IP forwarding is left as it is, off here), so they reach only the host and
each other, and nothing beyond the host reaches them.
"""

import json
from pathlib import Path

from . import bridges
from .errors import LocalEnvError
from .settings import Settings

BRIDGE = "gitopspods0"
NETWORK_NAME = "gitops-pods"
# Apart from kwok's fake pod range (10.244.0.0/24) and dockerd's bridge.
POD_SUBNET = "10.244.100.0/24"
NODE_IP = "10.244.100.1"
PREFIX_LENGTH = 24
CNI_BIN_DIR = Path("/usr/lib/cni")
CNI_PLUGINS = ["bridge", "host-local", "loopback"]


def cni_conf_dir(settings: Settings) -> Path:
    return settings.node_dir / "cni" / "net.d"


def ipam_dir(settings: Settings) -> Path:
    """host-local's address leases: meaningless once the node's pods are gone."""
    return settings.node_dir / "cni" / "ipam"


def check_plugins() -> None:
    missing = [name for name in CNI_PLUGINS if not (CNI_BIN_DIR / name).is_file()]
    if missing:
        raise LocalEnvError(f"CNI plugins {', '.join(missing)} not found in {CNI_BIN_DIR}: "
                            "apt-get install containernetworking-plugins (or `make debs`)")


def conflist(settings: Settings) -> dict:
    return {
        "cniVersion": "1.0.0",
        "name": NETWORK_NAME,
        "plugins": [{
            "type": "bridge",
            "bridge": BRIDGE,
            "isGateway": True,
            "ipMasq": False,
            "hairpinMode": True,
            "ipam": {
                "type": "host-local",
                "ranges": [[{"subnet": POD_SUBNET, "gateway": NODE_IP}]],
                "dataDir": str(ipam_dir(settings)),
            },
        }],
    }


def write_config(settings: Settings) -> Path:
    directory = cni_conf_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"10-{NETWORK_NAME}.conflist"
    path.write_text(json.dumps(conflist(settings), indent=2) + "\n")
    return path


def create_bridge(settings: Settings) -> None:
    """Made before the kubelet starts, as it serves on the node IP; the bridge plugin reuses it."""
    bridges.create(settings, BRIDGE, f"{NODE_IP}/{PREFIX_LENGTH}")


def delete_bridge(settings: Settings) -> None:
    bridges.delete(settings, BRIDGE)
