"""The server-side dry-run when the cluster does not answer, and kubeconfigs it cannot use (a cluster's answers: test_server_dry_run_unit.py, and tests/e2e against the real API server)."""

from __future__ import annotations

import socket

import pytest

from manifest_loader import load_manifests, render_objects
from manifest_loader.kube_client import KubeClient, KubeconfigError
from manifest_loader.provider_replacements import replaced_by_provider
from manifest_loader.server_dry_run import server_dry_run


def kubeconfig(server: str, cluster_extra: str = "  insecure-skip-tls-verify: true\n") -> str:
    return (
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters:\n- name: k\n  cluster:\n    server: {server}\n" + cluster_extra.replace("  ", "    ", 1)
        + "contexts:\n- name: c\n  context: {cluster: k, user: u}\n"
        "users:\n- name: u\n  user: {token: not-a-real-token}\n"
    )


def closed_port() -> int:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return listener.getsockname()[1]


def test_a_cluster_that_does_not_answer_is_reported_unreachable_and_nothing_is_refused(work_tree):
    work_tree.write("manifests/a.yaml", work_tree.config_map("a"))
    work_tree.commit()
    loaded = load_manifests(work_tree.root, "manifests")
    client = KubeClient(kubeconfig(f"https://127.0.0.1:{closed_port()}"))

    result = server_dry_run(client, loaded.objects, render_objects(loaded.objects, {}))

    assert (result.reachable, result.problems, result.checked) == (False, [], 0)


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        (kubeconfig("ftp://example"), r"server 'ftp://example' is not an http\(s\) URL"),
        (kubeconfig("https://127.0.0.1:1", "  certificate-authority-data: bm90IGEgY2VydA==\n"), r"certificates cannot be used"),
        (kubeconfig("https://127.0.0.1:1").replace("current-context: c", "current-context: other"), r"no context 'other'"),
    ],
)
def test_a_kubeconfig_that_cannot_be_used_says_which_part(config, problem):
    with pytest.raises(KubeconfigError, match=problem):
        KubeClient(config)


@pytest.mark.parametrize(
    ("group", "kind", "fields", "replaced"),
    [
        ("apps", "Deployment", ["spec.selector"], True),
        ("apps", "Deployment", ["spec.selector.matchLabels.app"], True),
        ("", "ConfigMap", ["data"], True),
        ("batch", "Job", ["spec.template.spec.containers[0].image"], True),
        ("storage.k8s.io", "StorageClass", ["reclaimPolicy"], False),
        ("apps", "Deployment", ["spec.selector", "spec.replicas"], False),
        ("scheduling.k8s.io", "PriorityClass", ["value"], False),
        ("apps", "Deployment", [], False),
    ],
)
def test_only_immutable_fields_the_provider_replaces_on_are_no_refusal(group, kind, fields, replaced):
    assert replaced_by_provider(group, kind, fields) is replaced
