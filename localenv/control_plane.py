"""The Kubernetes control plane: kine, kube-apiserver, controller-manager, scheduler.

kine serves the etcd API over a SQLite file: one small process built with
`go install`, announcing etcd 3.6 with watch progress notifications, which
the 1.34 API server's watch cache uses (k3s runs the same pairing).
Everything listens on 127.0.0.1 only.
"""

import time
from pathlib import Path

from . import binaries, kubeconfig, ports, probes
from .certs import Pki, ensure_pki
from .errors import LocalEnvError
from .kube_api import KubeApi
from .service import Service
from .settings import REAL_NODE_NAME, Settings

SERVICE_CIDR = "10.96.0.0/16"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
CONTROLLER_MANAGER_QPS = 200
CONTROLLER_MANAGER_BURST = 400


def component_kubeconfig(settings: Settings, name: str) -> Path:
    return settings.component_kubeconfig_dir / f"{name}.yaml"


def prepare_credentials(settings: Settings) -> Pki:
    """Certificates, the admin kubeconfig, and one kubeconfig per component."""
    pki = ensure_pki(settings.pki_dir)
    server = settings.apiserver_url
    kubeconfig.write(settings.kubeconfig, server, pki, "admin", "admin")
    for name, user in [("controller-manager", "system:kube-controller-manager"),
                       ("scheduler", "system:kube-scheduler"), ("kwok", "kwok"),
                       ("kubelet", f"system:node:{REAL_NODE_NAME}")]:
        kubeconfig.write(component_kubeconfig(settings, name), server, pki, name, user)
    return pki


def kine(settings: Settings) -> Service:
    def argv() -> list[str]:
        data = settings.state_dir / "kine"
        data.mkdir(parents=True, exist_ok=True)
        return [
            binaries.find("kine", settings),
            f"--listen-address=127.0.0.1:{settings.kine_port.number}",
            f"--endpoint=sqlite://{data / 'state.db'}?_journal=WAL&cache=shared&_busy_timeout=30000",
            "--metrics-bind-address=0",  # 0 turns off its metrics server (default :8080)
        ]

    return Service("kine", argv, lambda: ports.accepts_connections(settings.kine_port.number),
                   port=settings.kine_port)


def apiserver(settings: Settings, pki: Pki) -> Service:
    def argv() -> list[str]:
        return [
            binaries.find("kube-apiserver", settings),
            f"--etcd-servers=http://127.0.0.1:{settings.kine_port.number}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            # Nothing in the cluster dials the `kubernetes` Service, and its
            # endpoint may not be a loopback address.
            "--endpoint-reconciler-type=none",
            f"--secure-port={settings.apiserver_port.number}",
            f"--tls-cert-file={pki.cert('apiserver')}",
            f"--tls-private-key-file={pki.key('apiserver')}",
            f"--client-ca-file={pki.ca_cert}",
            f"--kubelet-client-certificate={pki.cert('apiserver-kubelet-client')}",
            f"--kubelet-client-key={pki.key('apiserver-kubelet-client')}",
            # The kubelet's Hostname address (its node name) resolves nowhere.
            "--kubelet-preferred-address-types=InternalIP",
            "--authorization-mode=Node,RBAC",
            f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
            f"--service-account-key-file={pki.service_account_public_key}",
            f"--service-account-signing-key-file={pki.service_account_key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--allow-privileged=true",
            "--profiling=false",
        ]

    return Service("kube-apiserver", argv, lambda: KubeApi(settings, pki).is_ready(),
                   port=settings.apiserver_port)


def _component_flags(settings: Settings, program: str, config, port) -> list[str]:
    """The binary and the flags a control-plane component needs to talk to the API and serve health on loopback."""
    return [
        binaries.find(program, settings),
        f"--kubeconfig={config}",
        f"--authentication-kubeconfig={config}",
        f"--authorization-kubeconfig={config}",
        "--bind-address=127.0.0.1",
        f"--secure-port={port.number}",
        f"--cert-dir={settings.state_dir / program.removeprefix('kube-')}",
    ]


def controller_manager(settings: Settings, pki: Pki) -> Service:
    config = component_kubeconfig(settings, "controller-manager")
    port = settings.controller_manager_port

    def argv() -> list[str]:
        return [
            *_component_flags(settings, "kube-controller-manager", config, port),
            # Signs service-account tokens, so every namespace gets its
            # `default` ServiceAccount, which pods need to be admitted.
            f"--service-account-private-key-file={pki.service_account_key}",
            f"--root-ca-file={pki.ca_cert}",
            f"--cluster-signing-cert-file={pki.ca_cert}",
            f"--cluster-signing-key-file={pki.ca_key}",
            "--use-service-account-credentials=true",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--leader-elect=false",
            # Each controller's client allows 20 requests/s by default: the
            # deployment controller then makes ~5 ReplicaSets a second, so 148
            # Deployments applied at once took 38.6 s to be Available; 9.4 s
            # at 200/s (README "Scale").
            f"--kube-api-qps={CONTROLLER_MANAGER_QPS}",
            f"--kube-api-burst={CONTROLLER_MANAGER_BURST}",
        ]

    return Service("kube-controller-manager", argv, _healthz(port.number), port=port)


def scheduler(settings: Settings) -> Service:
    config = component_kubeconfig(settings, "scheduler")
    port = settings.scheduler_port

    def argv() -> list[str]:
        return [
            *_component_flags(settings, "kube-scheduler", config, port),
            "--leader-elect=false",
        ]

    return Service("kube-scheduler", argv, _healthz(port.number), port=port)


def _healthz(port: int):
    context = probes.insecure_context()
    return lambda: probes.http_status(f"https://127.0.0.1:{port}/healthz", context) == 200


def wait_default_service_account(settings: Settings, pki: Pki) -> None:
    """Wait for default/default: until it exists, the API server refuses pods."""
    api = KubeApi(settings, pki)
    deadline = time.monotonic() + settings.start_timeout
    while api.get_json("/api/v1/namespaces/default/serviceaccounts/default") is None:
        if time.monotonic() > deadline:
            raise LocalEnvError(
                f"no default ServiceAccount after {settings.start_timeout:.0f}s; "
                f"see {settings.log_file('kube-controller-manager')}"
            )
        time.sleep(0.5)
