"""The real node: a kubelet from the control plane's own release, on the node's containerd.

It registers REAL_NODE_NAME tainted NODE_TAINT and labelled NODE_LABEL, so
only pods that tolerate the taint run here (the sample app does, and keeps
off kwok's nodes; the benchmarks' and tests' throwaway workloads stay on
kwok, whose pods never run). Set for this VM (cgroup v1, no systemd as init, no swap):

- cgroupDriver cgroupfs, as runc's (node_runtime.py): nothing here runs systemd;
- failCgroupV1 false, said out loud: the 1.34 default, and what lets it start
  on cgroup v1 (1.35 turns it on and would refuse this VM);
- failSwapOn stays on: the VM has no swap, so the check passes;
- the kubelet sets the sysctls it needs on start, as on any node
  (vm.overcommit_memory=1, kernel.panic=10, kernel.panic_on_oops=1...);
  protectKernelDefaults would refuse to start on this VM's values instead.
  `down` puts the host's own values back (host_sysctls.py).

It serves its API on the node IP (the pod bridge's address), checked with
client certificates from the cluster CA and authorized by the API server;
its health on 127.0.0.1. All its files are under the node's state directory.
"""

import json
from pathlib import Path

from . import binaries, host_sysctls, node_runtime, pod_network, probes
from .certs import Pki
from .control_plane import component_kubeconfig
from .service import Service
from .settings import REAL_NODE_NAME, Settings

NAME = "kubelet"
NODE_LABEL = "pulumi-gitops.dev/node"
NODE_LABEL_VALUE = "real"
NODE_TAINT = {"key": NODE_LABEL, "value": NODE_LABEL_VALUE, "effect": "NoSchedule"}


def kubelet_dir(settings: Settings) -> Path:
    return settings.node_dir / "kubelet"


def configuration(settings: Settings, pki: Pki) -> dict:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": pod_network.NODE_IP,
        "port": settings.kubelet_port.number,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": settings.kubelet_healthz_port.number,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(pki.ca_cert)},
        },
        "authorization": {"mode": "Webhook"},
        "containerRuntimeEndpoint": node_runtime.endpoint(settings),
        "cgroupDriver": "cgroupfs",
        "failCgroupV1": False,
        "registerWithTaints": [NODE_TAINT],
        # This VM's disk reports 252G but lets ~40G be used (reserved blocks), so the default
        # thresholds (10% / 15% of the size available) saw pressure with tens of GB free and
        # tainted the node. Absolute floors instead.
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "2Gi",
            "imagefs.available": "2Gi",
            "nodefs.inodesFree": "5%",
            "imagefs.inodesFree": "5%",
        },
        # Image GC takes percentages only: at the default 85% it ran, and failed, every 5 minutes
        # on this disk (252G, ~38G available reads as 85% used). It starts below ~12G free here.
        "imageGCHighThresholdPercent": 95,
        "imageGCLowThresholdPercent": 90,
        # No cluster DNS runs here: pods get the host's resolv.conf.
        "resolvConf": "/etc/resolv.conf",
        "staticPodPath": "",
        "podLogsDir": str(kubelet_dir(settings) / "pod-logs"),
    }


def saved_sysctls(settings: Settings) -> Path:
    return kubelet_dir(settings) / "host-sysctls.json"


def service(settings: Settings, pki: Pki) -> Service:
    def argv() -> list[str]:
        directory = kubelet_dir(settings)
        directory.mkdir(parents=True, exist_ok=True)
        host_sysctls.save_once(saved_sysctls(settings))
        config = directory / "config.json"
        config.write_text(json.dumps(configuration(settings, pki), indent=2) + "\n")
        return [
            binaries.find("kubelet", settings),
            f"--config={config}",
            f"--kubeconfig={component_kubeconfig(settings, 'kubelet')}",
            f"--root-dir={directory / 'root'}",
            f"--cert-dir={directory / 'pki'}",
            f"--hostname-override={REAL_NODE_NAME}",
            f"--node-ip={pod_network.NODE_IP}",
            f"--node-labels={NODE_LABEL}={NODE_LABEL_VALUE}",
        ]

    healthz = f"http://127.0.0.1:{settings.kubelet_healthz_port.number}/healthz"
    return Service(NAME, argv, lambda: probes.http_status(healthz) == 200,
                   port=settings.kubelet_healthz_port, stop_timeout=30,
                   umask=node_runtime.CONTAINER_FILES_UMASK,  # it writes pods' volumes
                   after_stop=lambda: _restore_sysctls(settings))


def _restore_sysctls(settings: Settings) -> None:
    for change in host_sysctls.restore(saved_sysctls(settings)):
        print(f"{'host sysctl':<24} {change}", flush=True)

