"""The real node stopped as `down` stops it leaves no process, mount, cgroup or bridge behind,
and the next `up` starts its pods again, as a rebooted node does.

Only the node's two services are stopped (the control plane the other tests share keeps running).
"""

import subprocess
import sys
import time

import pytest
from kubernetes import client, config

from localenv import bridges, kubelet_node, node_power_off, node_runtime, pod_network
from localenv.certs import Pki
from localenv.service import stop
from localenv.settings import REPO_DIR, load

pytestmark = pytest.mark.e2e
NAMESPACE = "default"
POD = "real-node-restart"


def web_pod(registry: str) -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": POD, "namespace": NAMESPACE},
        "spec": {
            "nodeSelector": {kubelet_node.NODE_LABEL: kubelet_node.NODE_LABEL_VALUE},
            "tolerations": [{**kubelet_node.NODE_TAINT, "operator": "Equal"}],
            "terminationGracePeriodSeconds": 1,
            "containers": [{
                "name": "web", "image": f"{registry}/base/python:3.11",
                "command": ["python3", "-m", "http.server", "8080"],
                "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1},
            }],
        },
    }


def container_id(pod: client.V1Pod) -> str | None:
    return pod.status.container_statuses[0].container_id if pod.status.container_statuses else None


def wait_ready(core: client.CoreV1Api, not_container: str | None = None, timeout: float = 180) -> client.V1Pod:
    """The pod once Ready, in a container other than NOT_CONTAINER (a stale status still says Ready)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pod = core.read_namespaced_pod(POD, NAMESPACE)
        ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
        if ready and container_id(pod) not in (None, not_container):
            return pod
        time.sleep(1)
    raise AssertionError(f"pod {POD} not Ready after {timeout:.0f}s: {pod.status}")


def delete_pod(api: client.CoreV1Api) -> None:
    try:
        api.delete_namespaced_pod(POD, NAMESPACE, grace_period_seconds=0)
    except client.ApiException as error:
        if error.status != 404:
            raise
    while api.list_namespaced_pod(NAMESPACE, field_selector=f"metadata.name={POD}").items:
        time.sleep(0.5)


@pytest.fixture
def core(local_env):
    config.load_kube_config(config_file=local_env["KUBECONFIG"])
    api = client.CoreV1Api()
    delete_pod(api)  # left by an interrupted run
    api.create_namespaced_pod(NAMESPACE, web_pod(local_env["GITOPS_REGISTRY"]))
    yield api
    delete_pod(api)


def test_stopping_the_node_leaves_nothing_and_up_starts_its_pods_again(core, local_env):
    settings = load()
    started = wait_ready(core)
    assert started.spec.node_name == "gitops-node-0"
    assert node_power_off.pod_processes() and node_power_off.shim_processes(settings)
    assert node_power_off.mounts_under(settings.node_dir)

    for service in (kubelet_node.service(settings, Pki(settings.pki_dir)),
                    node_runtime.service(settings, after_stop=lambda: node_power_off.power_off(settings))):
        assert stop(service, settings)

    assert node_power_off.pod_processes() == set()
    assert node_power_off.shim_processes(settings) == set()
    assert node_power_off.mounts_under(settings.node_dir) == []
    assert node_power_off.pod_cgroups() == []
    assert not bridges.exists(pod_network.BRIDGE)
    assert not node_runtime.state_dir(settings).exists()

    up = subprocess.run([sys.executable, "-m", "localenv", "up"], cwd=REPO_DIR, capture_output=True, text=True,
                        timeout=600)
    assert up.returncode == 0, up.stdout + up.stderr

    restarted = wait_ready(core, not_container=container_id(started))
    assert restarted.metadata.uid == started.metadata.uid, "the same pod, started again by the kubelet"
    answer = core.connect_get_namespaced_pod_proxy(f"{POD}:8080", NAMESPACE, _preload_content=False)
    assert answer.status == 200 and b"Directory listing" in answer.data
