"""The real node's container runtime: a containerd of its own, apart from dockerd's.

Debian's containerd (1.6, CRI v1) and runc, with every path under the node's
state directory: its root (images, snapshots: kept across `down`), its state
(task bundles, runc's state, network namespaces: like /run, emptied by
`down`) and its socket. Images are pulled from the local registry over plain
HTTP (hosts.toml); the pod sandbox image is the `pause` built with the
kubelet (pause_image.py). runc uses cgroupfs, as the kubelet does.
OOM scores are kept at or above containerd's own (0): see CONFIG.
"""

from pathlib import Path
from typing import Callable

from . import binaries, pause_image, pod_network, ports
from .service import Service
from .settings import Settings

NAME = "containerd"
# Image layers and containers' files are read by the containers' own users (the app runs as
# 65532): under `localenv`'s private umask their directories came out 0700 and the app's
# python3 could not load libm.so.6.
CONTAINER_FILES_UMASK = 0o022
# The namespace the CRI plugin keeps the kubelet's containers in.
CRI_NAMESPACE = "k8s.io"

CONFIG = """\
version = 2
root = "{root}"
state = "{state}"
oom_score = 0

[grpc]
  address = "{socket}"

[plugins."io.containerd.internal.v1.opt"]
  path = "{root}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{sandbox_image}"
  # This machine withholds CAP_SYS_RESOURCE (bounding set), so no process may lower its
  # oom_score_adj: runc would fail on a sandbox's -998. Scores stay at or above containerd's own.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "{runc}"
        Root = "{state}/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni_bin_dir}"
    conf_dir = "{cni_conf_dir}"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{registry_hosts}"
"""

# Plain HTTP to the local registry: containerd otherwise insists on HTTPS.
REGISTRY_HOSTS = """\
server = "http://{address}"

[host."http://{address}"]
  capabilities = ["pull", "resolve"]
"""


def containerd_dir(settings: Settings) -> Path:
    return settings.node_dir / "containerd"


def root_dir(settings: Settings) -> Path:
    return containerd_dir(settings) / "root"


def state_dir(settings: Settings) -> Path:
    return containerd_dir(settings) / "state"


def socket_path(settings: Settings) -> Path:
    return containerd_dir(settings) / "containerd.sock"


def endpoint(settings: Settings) -> str:
    return f"unix://{socket_path(settings)}"


def write_config(settings: Settings) -> Path:
    directory = containerd_dir(settings)
    hosts = directory / "certs.d"
    (hosts / settings.registry_address).mkdir(parents=True, exist_ok=True)
    (hosts / settings.registry_address / "hosts.toml").write_text(
        REGISTRY_HOSTS.format(address=settings.registry_address))
    config = directory / "config.toml"
    config.write_text(CONFIG.format(
        root=root_dir(settings), state=state_dir(settings), socket=socket_path(settings),
        sandbox_image=pause_image.image_name(settings), runc=binaries.find("runc", settings),
        cni_bin_dir=pod_network.CNI_BIN_DIR, cni_conf_dir=pod_network.cni_conf_dir(settings),
        registry_hosts=hosts,
    ))
    return config


def service(settings: Settings, after_stop: Callable[[], None] | None = None) -> Service:
    def argv() -> list[str]:
        pod_network.check_plugins()
        pod_network.write_config(settings)
        pod_network.create_bridge(settings)
        socket_path(settings).unlink(missing_ok=True)  # a killed containerd leaves it behind
        config = write_config(settings)
        return [binaries.find("containerd", settings), "--config", str(config)]

    return Service(NAME, argv, lambda: ports.unix_socket_accepts(socket_path(settings)), stop_timeout=30,
                   after_stop=after_stop, umask=CONTAINER_FILES_UMASK)
