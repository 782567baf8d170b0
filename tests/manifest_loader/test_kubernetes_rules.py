"""Kubernetes' rules for names, namespaces, label and annotation keys and values, checked before anything is applied."""

from __future__ import annotations

import pytest

from manifest_loader import ManifestError, load_manifests


def load_one(work_tree, content):
    work_tree.write("manifests/app.yaml", content)
    work_tree.commit()
    return load_manifests(work_tree.root, "manifests")


def config_map_with(metadata: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n{metadata}"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (config_map_with("  name: My_Config\n"), r"ConfigMap/My_Config: metadata\.name 'My_Config' is not a DNS-1123 subdomain"),
        (config_map_with(f"  name: {'a' * 254}\n"), r"is 254 characters long, over the limit of 253"),
        ("apiVersion: v1\nkind: Namespace\nmetadata: {name: team.a}\n", r"Namespace/team\.a: metadata\.name 'team\.a' is not a DNS-1123 label"),
        ("apiVersion: v1\nkind: Namespace\nmetadata: {name: " + "n" * 64 + "}\n", r"is 64 characters long, over the limit of 63"),
        ("apiVersion: v1\nkind: Service\nmetadata: {name: 1web}\nspec: {ports: [{port: 80}]}\n", r"Service/1web: metadata\.name '1web' is not a DNS-1035 label"),
        (
            "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: " + "c" * 53 + "}\n"
            "spec: {schedule: '* * * * *', jobTemplate: {spec: {template: {spec: {containers: [{name: c, image: i}], restartPolicy: Never}}}}}\n",
            r"is 53 characters long, over the limit of 52",
        ),
        (config_map_with("  name: a\n  namespace: Team\n"), r"metadata\.namespace 'Team' is not a DNS-1123 label"),
        (config_map_with("  name: a\n  labels: {tier: " + "v" * 64 + "}\n"), r"metadata\.labels\.tier value '" + "v" * 64 + r"' is 64 characters long, over the limit of 63"),
        (config_map_with("  name: a\n  labels: {tier: -front}\n"), r"metadata\.labels\.tier value '-front' is not empty or alphanumeric"),
        (config_map_with("  name: a\n  labels: {'Example.com/tier': x}\n"), r"key 'Example\.com/tier' has the prefix 'Example\.com'"),
        (config_map_with("  name: a\n  labels: {'tier/': x}\n"), r"key 'tier/' has an empty name"),
        (config_map_with("  name: a\n  annotations: {'a b': x}\n"), r"metadata\.annotations key 'a b' has a name part that is not alphanumeric"),
        (config_map_with("  name: a\n  annotations: {'x/" + "k" * 64 + "': v}\n"), r"has a name part of 64 characters, over the limit of 63"),
        (config_map_with("  name: a\n  resourceVersion: '12'\n"), r"metadata\.resourceVersion is set\. Remove it: the API server sets it"),
    ],
)
def test_what_the_api_server_refuses_is_refused_at_load(work_tree, content, problem):
    with pytest.raises(ManifestError, match=problem):
        load_one(work_tree, content)


def test_pod_template_labels_are_checked_too(work_tree):
    content = """\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web, version: "1.0 beta"}}
            spec: {containers: [{name: web, image: nginx}]}
    """
    with pytest.raises(ManifestError, match=r"\(line 7\): Deployment/web: spec\.template\.metadata\.labels\.version value '1\.0 beta'"):
        load_one(work_tree, content)


def test_annotations_over_256_kib_in_total_are_refused(work_tree):
    big = "x" * (130 * 1024)
    with pytest.raises(ManifestError, match=r"metadata\.annotations hold \d+ bytes, over the limit of 262144"):
        load_one(work_tree, config_map_with(f"  name: a\n  annotations: {{a: {big}, b: {big}}}\n"))


@pytest.mark.parametrize(
    "content",
    [
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: 'system:controller:x'}\n",
        config_map_with("  name: app.config-1\n  labels: {'app.kubernetes.io/name': web, empty: ''}\n"
                        "  annotations: {'example.com/a_b.c': anything at all, 'note': '" + "y" * 300 + "'}\n"),
        "apiVersion: v1\nkind: Service\nmetadata: {name: " + "s" * 63 + "}\nspec: {ports: [{port: 80}]}\n",
    ],
)
def test_names_and_keys_kubernetes_accepts_load(work_tree, content):
    assert len(load_one(work_tree, content).objects) == 1
